"""One delivery attempt of one outbox row, from "take it" to "record what happened".

Knows nothing of Celery: ``delivery.tasks`` calls these with the row id from the message, the
benchmark and the tests call them directly. A crash at any point leaves the row ``pending``
(sent again by the relay) or ``sending`` (sent again by the sweeper once its lease ran out):
the customer may then get the same message a second time, with the same Message-ID or
Idempotency-Key, and never a different one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from connectors.registry import Registry
from delivery.compose import build_email
from delivery.connector_send import send_helpdesk_reply
from delivery.smtp_channel import SmtpChannel
from delivery.status import Row, backoff_s, retry_later, settle, take
from delivery.webhook_channel import WebhookChannel
from shared.config import Settings
from shared.errors import PermanentError, TransientError
from shared.models import (
    DeliveryChannel,
    DeliveryStatus,
    OutboundMessage,
    Review,
    Ticket,
    WebhookDelivery,
    utcnow,
)

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    sent = "sent"
    failed = "failed"
    retry = "retry"  # due again after a backoff
    skipped = "skipped"  # not ours: done already, held by another worker, or not due


@dataclass
class Channels:
    """The long-lived clients a delivery process hands to every job."""

    smtp: SmtpChannel | None
    webhooks: WebhookChannel
    helpdesks: Registry  # connectors/: built on first use, one HTTP client each

    @classmethod
    def from_settings(cls, settings: Settings) -> Channels:
        url = settings.smtp_url.get_secret_value()
        smtp = SmtpChannel(url, settings.smtp_timeout_s, settings.smtp_ca_file) if url else None
        hooks = WebhookChannel(
            settings.webhook_secret.get_secret_value(), settings.webhook_timeout_s
        )
        return cls(smtp, hooks, Registry(settings))

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.webhooks.close()
        self.helpdesks.close()


def deliver_reply(db: Engine, settings: Settings, channels: Channels, row_id: int) -> Outcome:
    """Send one approved reply by its channel."""
    with Session(db, expire_on_commit=False) as s:
        if not take(s, OutboundMessage, row_id, settings.delivery_lease_s):
            return Outcome.skipped
        message = s.get_one(OutboundMessage, row_id)
        ticket = s.get(Ticket, message.ticket_id)
        name = ticket.customer_name if ticket is not None else None
        try:
            if message.attempts > settings.delivery_max_attempts:
                raise PermanentError(
                    f"gave up after {settings.delivery_max_attempts} attempts: "
                    f"{message.last_error or 'no answer'}"
                )
            if message.channel == DeliveryChannel.email:
                _send_email(message, name, settings, channels)
            elif message.channel == DeliveryChannel.helpdesk:
                send_helpdesk_reply(message, ticket, _reviewer(s, message), channels.helpdesks)
            else:
                _send_webhook_reply(message, settings, channels)
        except (PermanentError, TransientError) as err:
            return after_error(
                s, OutboundMessage, message.id or row_id, err, message.attempts, settings
            )
        except Exception as err:  # a bug: say so on the ticket; never retry blindly
            log.exception("reply %s: unexpected error", row_id)
            reason = f"unexpected error: {type(err).__name__}: {err}"
            settle(s, OutboundMessage, row_id, DeliveryStatus.failed, settings, reason)
            return Outcome.failed
        settle(s, OutboundMessage, row_id, DeliveryStatus.sent, settings)
        return Outcome.sent


def deliver_event(db: Engine, settings: Settings, channels: Channels, row_id: int) -> Outcome:
    """POST one webhook event to its endpoint."""
    with Session(db, expire_on_commit=False) as s:
        if not take(s, WebhookDelivery, row_id, settings.delivery_lease_s):
            return Outcome.skipped
        row = s.get_one(WebhookDelivery, row_id)
        try:
            code = channels.webhooks.post(row.url, row.payload, row.delivery_id)
        except (PermanentError, TransientError) as err:
            status = getattr(err, "status", None)
            return after_error(
                s, WebhookDelivery, row_id, err, row.attempts, settings, response_status=status
            )
        settle(s, WebhookDelivery, row_id, DeliveryStatus.sent, settings, response_status=code)
        return Outcome.sent


def after_error(
    s: Session,
    table: Row,
    row_id: int,
    err: Exception,
    attempts: int,
    settings: Settings,
    **extra: Any,
) -> Outcome:
    reason = str(err)
    if isinstance(err, TransientError) and attempts < settings.delivery_max_attempts:
        retry_later(s, table, row_id, reason, backoff_s(attempts, settings), **extra)
        return Outcome.retry
    if isinstance(err, TransientError):
        reason = f"gave up after {attempts} attempts: {reason}"
    settle(s, table, row_id, DeliveryStatus.failed, settings, reason, **extra)
    return Outcome.failed


def _reviewer(s: Session, message: OutboundMessage) -> str:
    stmt = (
        select(Review.reviewer)
        .where(Review.ticket_id == message.ticket_id)
        .order_by(col(Review.id).desc())
    )
    return s.exec(stmt).first() or ""


def _send_email(
    message: OutboundMessage, name: str | None, settings: Settings, channels: Channels
) -> None:
    mail = build_email(message, name, settings.support_address, settings.support_name)
    if channels.smtp is None:
        raise TransientError("TICKETFLOW_SMTP_URL is not set: the reply waits for it")
    channels.smtp.send(mail, settings.support_address, mail["To"].addresses[0].addr_spec)


def _send_webhook_reply(message: OutboundMessage, settings: Settings, channels: Channels) -> None:
    urls = settings.webhook_url_list
    if not urls:
        raise PermanentError(
            "the ticket has no email address and TICKETFLOW_WEBHOOK_URLS is empty: no channel "
            "to send the reply by"
        )
    payload = {
        "id": message.idempotency_key,
        "event": "reply.sent",
        "created_at": utcnow().isoformat(),
        "data": {
            "ticket_id": message.ticket_id,
            "revision": message.revision,
            "channel": "webhook",
            "recipient": message.recipient,
            "subject": message.subject,
            "body": message.body,
        },
    }
    for url in urls:  # a retry posts to every endpoint again, with the same key
        channels.webhooks.post(url, payload, message.idempotency_key)
