"""Writing approved replies to the outbox, undoing one inside its hold time, forgetting them.

``add_reply`` is called inside the review's transaction: the decision and the message to send
commit together or not at all. A rejected draft writes nothing, so nothing unreviewed can be
sent. The idempotency key (ticket + revision) is unique: one reply per reviewed revision.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from delivery.compose import reply_fields
from shared.config import Settings
from shared.errors import ConflictError
from shared.models import DeliveryStatus, OutboundMessage, Ticket, WebhookDelivery, utcnow
from shared.webhook_events import add_event


def add_reply(session: Session, ticket: Ticket, body: str, settings: Settings) -> OutboundMessage:
    """Stage the reply (sent after ``delivery_hold_s``) in ``session``; the caller commits."""
    fields = reply_fields(session, ticket, body, settings.support_address)
    message = OutboundMessage(
        **fields, send_after=utcnow() + timedelta(seconds=settings.delivery_hold_s)
    )
    session.add(message)
    return message


def add_review_event(
    session: Session, settings: Settings, ticket: Ticket, decision: str, reviewer: str
) -> None:
    add_event(
        session,
        settings.webhook_url_list,
        "ticket.reviewed",
        ticket.id,
        {"revision": ticket.revision, "decision": decision, "reviewer": reviewer},
    )


def latest_reply(session: Session, ticket_id: int) -> OutboundMessage | None:
    stmt = (
        select(OutboundMessage)
        .where(OutboundMessage.ticket_id == ticket_id)
        .order_by(col(OutboundMessage.id).desc())
    )
    return session.exec(stmt).first()


def withdraw_reply(session: Session, ticket_id: int) -> OutboundMessage:
    """Delete the ticket's reply if it is still on hold and untouched; the caller commits.

    One conditional DELETE: a relay's claim and this undo cannot both win."""
    message = latest_reply(session, ticket_id)
    if message is None:
        raise ConflictError(f"ticket {ticket_id} has no approved reply to undo")
    removed = session.exec(
        delete(OutboundMessage).where(
            col(OutboundMessage.id) == message.id,
            col(OutboundMessage.status) == DeliveryStatus.pending,
            col(OutboundMessage.enqueued_at).is_(None),
            col(OutboundMessage.attempts) == 0,
            col(OutboundMessage.send_after) > utcnow(),
        )
    ).rowcount
    if removed != 1:
        session.rollback()
        raise ConflictError(
            f"ticket {ticket_id}: the reply can no longer be undone (status {message.status}, "
            "hold time over or sending started)"
        )
    return message


def delete_for_ticket(session: Session, ticket_id: int) -> int:
    """Remove every outbox and webhook-log row of a ticket (``ticketflow forget``); the caller
    commits. Returns the number of rows removed."""
    n = 0
    for table in (OutboundMessage, WebhookDelivery):
        n += session.exec(delete(table).where(col(table.ticket_id) == ticket_id)).rowcount
    return n
