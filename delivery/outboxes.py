"""The delivery outboxes the relay publishes: approved replies, webhook events and helpdesk
write-backs.

A row is due once it is pending, unclaimed and past ``send_after`` (the undo hold time, or
the next retry after a transient failure), so retries need no timer: the row simply becomes
due again. Any relay may send a due row at once (no hand-off wait).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col

from dispatch.outbox import Outbox
from shared.models import ConnectorWrite, DeliveryStatus, OutboundMessage, WebhookDelivery


def _due(table: Any) -> Any:
    def unsent(now: datetime) -> Sequence[ColumnElement[bool]]:
        return (
            col(table.status) == DeliveryStatus.pending,
            col(table.enqueued_at).is_(None),
            col(table.send_after) <= now,
        )

    return unsent


REPLIES = Outbox("replies", OutboundMessage, _due(OutboundMessage), handoff=False)
WEBHOOKS = Outbox("webhooks", WebhookDelivery, _due(WebhookDelivery), handoff=False)
# Labels and drafts written back to helpdesks (connectors/).
CONNECTOR_WRITES = Outbox("connector_writes", ConnectorWrite, _due(ConnectorWrite), handoff=False)
