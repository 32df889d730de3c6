"""What an approval writes to the delivery outbox, and taking it back inside its hold time.

``add_reply`` runs inside the review's transaction: the decision and the reply to send commit
together or not at all; a rejection writes none, so nothing unreviewed can be sent. Everything
that depends on the ticket (channel, recipient, ``Re: ... [TF-n]`` subject, Message-ID,
In-Reply-To, References) is decided here, once, so every attempt of ``ticketflow deliver``
sends the same message. The idempotency key (ticket + revision) is unique: one reply per
reviewed revision.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from shared.config import Settings
from shared.connector_config import connector_of
from shared.errors import ConflictError
from shared.models import (
    DeliveryChannel,
    DeliveryStatus,
    OutboundMessage,
    Ticket,
    TicketMessage,
    utcnow,
)
from shared.webhook_events import add_event

TICKET_TAG = re.compile(r"\[TF-(\d{1,9})\]", re.IGNORECASE)
REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw)\s*:", re.IGNORECASE)
MAX_REFERENCES = 20  # RFC 5322 allows trimming; clients need the first and the last few
NO_DOMAIN = "ticketflow.invalid"
DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")  # what a Message-ID's right side may be


def one_line(value: str | None) -> str:
    """A header value as one line: CR, LF and runs of whitespace become one space."""
    return " ".join((value or "").split())


def reply_subject(ticket_id: int, subject: str) -> str:
    """``Re: <subject> [TF-n]``: the tag lets ingest-email thread a reply whose client
    dropped the threading headers."""
    text = one_line(subject) or "Your request"
    if not TICKET_TAG.search(text):
        text = f"{text} [TF-{ticket_id}]"
    return text if REPLY_PREFIX.match(text) else f"Re: {text}"


def channel_for(ticket: Ticket) -> DeliveryChannel:
    """The helpdesk a ticket came from (connectors/); else email for tickets that came by
    email or carry an address; webhook for the others."""
    if connector_of(ticket.source) is not None:
        return DeliveryChannel.helpdesk
    if ticket.source == "email" or ticket.customer_email:
        return DeliveryChannel.email
    return DeliveryChannel.webhook


def _thread_ids(session: Session, ticket_id: int) -> list[tuple[str, str | None]]:
    """(Message-ID, sender) of the ticket's messages, oldest first; hashed keys are skipped."""
    rows = session.exec(
        select(TicketMessage.message_id, TicketMessage.sender, TicketMessage.received_at)
        .where(TicketMessage.ticket_id == ticket_id, col(TicketMessage.message_id).is_not(None))
        .order_by(col(TicketMessage.id))
    ).all()
    return [(m, s) for m, s, _ in rows if m and m.startswith("<")]


def reply_fields(
    session: Session, ticket: Ticket, body: str, support_address: str
) -> dict[str, Any]:
    """The outbox row's content for this ticket's current revision."""
    assert ticket.id is not None
    channel = channel_for(ticket)
    key = f"ticket-{ticket.id}-rev-{ticket.revision}"
    domain = support_address.rpartition("@")[2].strip()
    domain = domain if DOMAIN.fullmatch(domain) else NO_DOMAIN
    fields: dict[str, Any] = {
        "ticket_id": ticket.id,
        "revision": ticket.revision,
        "channel": channel,
        "recipient": ticket.customer_email,
        "subject": reply_subject(ticket.id, ticket.subject),
        "body": body,
        "idempotency_key": key,
    }
    if channel != DeliveryChannel.email:  # webhook, helpdesk: the key identifies the reply
        return {**fields, "remote_id": key}
    ids = _thread_ids(session, ticket.id)
    support = support_address.casefold()
    from_customer = [m for m, sender in ids if (sender or "").casefold() != support]
    token = secrets.token_hex(6)
    return {
        **fields,
        "remote_id": f"<tf.{ticket.id}.{ticket.revision}.{token}@{domain}>",
        "in_reply_to": (from_customer or [m for m, _ in ids] or [""])[-1] or None,
        "reference_ids": " ".join(m for m, _ in ids[-MAX_REFERENCES:]) or None,
    }


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
