"""What an email reply says and how it threads: subject, Message-ID, In-Reply-To, References.

Everything that depends on the ticket is decided when the reply is written to the outbox
(``reply_fields``), so every attempt sends the same message with the same Message-ID; only
the envelope (From, Date) is built at send time (``build_email``). Header values are one line:
a subject or name holding CR/LF is folded to spaces, never allowed to add a header.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from sqlmodel import Session, col, select

from shared.errors import PermanentError
from shared.models import DeliveryChannel, OutboundMessage, Ticket, TicketMessage

TICKET_TAG = re.compile(r"\[TF-(\d{1,9})\]", re.IGNORECASE)
REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw)\s*:", re.IGNORECASE)
ADDRESS = re.compile(r"[^@\s<>()\[\]\\,;:\"]+@[^@\s<>()\[\]\\,;:\"]+\.[^@\s<>()\[\]\\,;:\"]+")
MAX_REFERENCES = 20  # RFC 5322 allows trimming; clients need the first and the last few
NO_DOMAIN = "ticketflow.invalid"


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
    """Email for tickets that came by email or carry an address; webhook for the others."""
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
    domain = support_address.rpartition("@")[2] or NO_DOMAIN
    fields: dict[str, Any] = {
        "ticket_id": ticket.id,
        "revision": ticket.revision,
        "channel": channel,
        "recipient": ticket.customer_email,
        "subject": reply_subject(ticket.id, ticket.subject),
        "body": body,
        "idempotency_key": key,
    }
    if channel == DeliveryChannel.webhook:
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


def check_recipient(address: str | None) -> str:
    """The customer's address, or a ``PermanentError`` saying why there is none to send to."""
    if not address or not address.strip():
        raise PermanentError("the ticket has no customer email address to reply to")
    if not ADDRESS.fullmatch(address.strip()):
        raise PermanentError(f"the customer address {address[:200]!r} is not a valid address")
    return address.strip()


def build_email(
    message: OutboundMessage,
    customer_name: str | None,
    support_address: str,
    support_name: str,
) -> EmailMessage:
    """The message to send: plain text, threaded, with the fixed Message-ID."""
    if not support_address:
        raise PermanentError("TICKETFLOW_SUPPORT_ADDRESS is not set: no From address")
    to = check_recipient(message.recipient)
    mail = EmailMessage()
    mail["From"] = formataddr((one_line(support_name), support_address))
    mail["To"] = formataddr((one_line(customer_name), to))
    mail["Subject"] = one_line(message.subject)
    # The approval's time, not the attempt's: a re-sent copy is byte-for-byte the same.
    mail["Date"] = format_datetime(_as_utc(message.created_at), usegmt=True)
    mail["Message-ID"] = message.remote_id
    if message.in_reply_to:
        mail["In-Reply-To"] = message.in_reply_to
    if message.reference_ids:
        mail["References"] = message.reference_ids
    mail.set_content(message.body)
    return mail


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
