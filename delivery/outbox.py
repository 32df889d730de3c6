"""Forgetting a ticket's deliveries: its replies, webhook log rows and helpdesk write-backs.

For ``ticketflow forget`` (privacy): rows are keyed by ``ticket_id``, nothing else refers to
them, so deleting them is enough.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col

from shared.models import ConnectorWrite, OutboundMessage, WebhookDelivery


def delete_for_ticket(session: Session, ticket_id: int) -> int:
    """Remove every outbox and webhook-log row of a ticket (``ticketflow forget``); the caller
    commits. Returns the number of rows removed."""
    n = 0
    for table in (OutboundMessage, WebhookDelivery, ConnectorWrite):
        n += session.exec(delete(table).where(col(table.ticket_id) == ticket_id)).rowcount
    return n
