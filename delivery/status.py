"""Every change of a delivery row's status, in one module: take it for sending, put it back
for a retry, and settle it as sent or failed (``settle``: the one place a final status is set,
so counting outcomes means counting its calls).

Each change is one conditional UPDATE on the row's current status, so two workers holding
messages for the same row (a redelivered message, a message re-sent after a lost one) never
both send it: only one ``take`` matches a pending row.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from producer.email.thread import ensure_first_message
from shared import metrics
from shared.config import Settings
from shared.models import (
    ConnectorWrite,
    DeliveryChannel,
    DeliveryStatus,
    OutboundMessage,
    Ticket,
    TicketMessage,
    WebhookDelivery,
    utcnow,
)
from shared.webhook_events import add_event

log = logging.getLogger(__name__)
Row = type[OutboundMessage] | type[WebhookDelivery] | type[ConnectorWrite]


def take(session: Session, table: Row, row_id: int, lease_s: float) -> bool:
    """Mark a due pending row ``sending`` for ``lease_s``, counting the attempt; False when
    another worker has it, it is done, or it is not due (a stale duplicate message)."""
    now = utcnow()
    taken = session.exec(
        update(table)
        .where(
            col(table.id) == row_id,
            col(table.status) == DeliveryStatus.pending,
            col(table.send_after) <= now,
        )
        .values(
            status=DeliveryStatus.sending,
            attempts=col(table.attempts) + 1,
            lease_expires_at=now + timedelta(seconds=lease_s),
            updated_at=now,
        )
    ).rowcount
    session.commit()
    return bool(taken)


def backoff_s(attempts: int, settings: Settings) -> float:
    """2, 4, 8, ... times the base delay, up to the maximum."""
    return float(
        min(
            settings.delivery_backoff_s * 2 ** max(attempts - 1, 0), settings.delivery_max_backoff_s
        )
    )


def retry_later(
    session: Session, table: Row, row_id: int, reason: str, delay_s: float, **extra: Any
) -> bool:
    """Back to pending, due again after ``delay_s``; the relay publishes it then."""
    now = utcnow()
    done = session.exec(
        update(table)
        .where(col(table.id) == row_id, col(table.status) == DeliveryStatus.sending)
        .values(
            status=DeliveryStatus.pending,
            enqueued_at=None,
            lease_expires_at=None,
            send_after=now + timedelta(seconds=delay_s),
            last_error=reason[:2000],
            updated_at=now,
            **extra,
        )
    ).rowcount
    session.commit()
    if done:
        metrics.record_delivery(_channel(session, table, row_id), "retry")
    return bool(done)


def _channel(session: Session, table: Row, row_id: int) -> str:
    """The metrics label of a row: a reply's channel, or ``event`` for a webhook event."""
    if table is WebhookDelivery:
        return "event"
    if table is ConnectorWrite:
        return "helpdesk"
    return str(session.get_one(OutboundMessage, row_id).channel)


def settle(
    session: Session,
    table: Row,
    row_id: int,
    status: DeliveryStatus,
    settings: Settings,
    reason: str | None = None,
    **extra: Any,
) -> bool:
    """Set the final status (``sent`` or ``failed``) of a row being sent. For a reply, in the
    same transaction: a sent email is stored on the ticket as an outgoing message (the next
    triage reads the whole conversation, a customer's answer threads onto it), and the
    ``reply.sent`` / ``reply.failed`` event is written."""
    assert status in (DeliveryStatus.sent, DeliveryStatus.failed)
    now = utcnow()
    values: dict[str, Any] = {
        "status": status,
        "lease_expires_at": None,
        "updated_at": now,
        "last_error": reason[:2000] if reason else None,
        **extra,
    }
    if status == DeliveryStatus.sent:
        values["sent_at"] = now
    done = session.exec(
        update(table)
        .where(col(table.id) == row_id, col(table.status) == DeliveryStatus.sending)
        .values(**values)
    ).rowcount
    if done and table is OutboundMessage:
        _record_reply(session, row_id, status, settings, reason)
    session.commit()
    if done:  # the reason may quote the customer's address: it stays in the database
        log.info("%s %s: %s", table.__tablename__, row_id, status.value)
        metrics.record_delivery(_channel(session, table, row_id), status.value)
    return bool(done)


def _record_reply(
    session: Session,
    row_id: int,
    status: DeliveryStatus,
    settings: Settings,
    reason: str | None,
) -> None:
    message = session.get_one(OutboundMessage, row_id)
    ticket = session.get_one(Ticket, message.ticket_id)
    if status == DeliveryStatus.sent and message.channel == DeliveryChannel.email:
        ensure_first_message(session, ticket)
        session.add(
            TicketMessage(
                ticket_id=message.ticket_id,
                message_id=message.remote_id,
                sender=settings.support_address or None,
                subject=message.subject,
                body=message.body,
                body_original=message.body,
                received_at=utcnow(),
            )
        )
    if message.channel == DeliveryChannel.webhook and status == DeliveryStatus.sent:
        return  # the reply itself went to the webhooks as reply.sent
    data: dict[str, Any] = {
        "revision": message.revision,
        "channel": str(message.channel),
        "message_id": message.remote_id,
    }
    if status == DeliveryStatus.failed:
        data["reason"] = reason
    event = "reply.sent" if status == DeliveryStatus.sent else "reply.failed"
    add_event(session, settings.webhook_url_list, event, message.ticket_id, data)
