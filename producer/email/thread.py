"""Which ticket a reply belongs to, and the conversation text the model reads for it.

A reply is matched by its In-Reply-To / References headers against stored message ids, or
by a "[TF-123]" reference that our outgoing replies put in the subject (clients that drop
the threading headers still keep the subject). Whether it may join is ``ThreadMatch.may_join``:
a forged sender never gets into someone else's conversation.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from producer.email.parse import ParsedEmail
from shared.models import THREAD_SEPARATOR, Ticket, TicketMessage, escape_separator, utcnow

TICKET_REF = re.compile(r"\[TF-(\d{1,9})\]", re.IGNORECASE)
MAX_KEY_CHARS = 512  # Ticket.external_id's limit; TicketMessage.message_id allows more


def message_key(message_id: str | None, raw: bytes | None = None) -> str:
    """The id a mail is stored under: its Message-ID, or a hash when it is absent or too long.

    Hashing the raw bytes of a mail without a Message-ID still makes a re-run idempotent.
    """
    if message_id and len(message_id) <= MAX_KEY_CHARS:
        return message_id
    if message_id:
        return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return "raw-sha256:" + hashlib.sha256(raw or b"").hexdigest()


@dataclass(frozen=True)
class ThreadMatch:
    """The conversation a mail points at, and whether its sender may join it."""

    ticket: Ticket
    same_sender: bool  # the sender is the ticket's customer
    by_reference: bool  # found by In-Reply-To/References, not only by a [TF-n] tag

    def may_join(self, verified: bool) -> bool:
        """A ticket's customer may always add to it; anyone else only with an authenticated
        sender replying to one of its messages (a colleague in copy). Ticket numbers are easy
        to guess and message ids travel in every quote, so neither proves who writes."""
        return self.same_sender or (verified and self.by_reference)


def find_thread(session: Session, mail: ParsedEmail) -> ThreadMatch | None:
    """The ticket this mail points at, nearest reference first; None for a new conversation."""
    refs = [message_key(r) for r in (*mail.in_reply_to, *reversed(mail.references))]
    ticket: Ticket | None = None
    by_reference = False
    if refs:
        stmt = select(TicketMessage).where(col(TicketMessage.message_id).in_(set(refs)))
        by_id = {m.message_id: m.ticket_id for m in session.exec(stmt).all()}
        for ref in refs:
            if ref in by_id:
                ticket, by_reference = session.get(Ticket, by_id[ref]), True
                break
    if ticket is None:
        found = TICKET_REF.search(mail.subject)
        ticket = session.get(Ticket, int(found.group(1))) if found else None
    if ticket is None:
        return None
    same = _same_address(ticket.customer_email, mail.sender_email)
    return ThreadMatch(ticket, same, by_reference)


def _same_address(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip().casefold() == b.strip().casefold())


def ensure_first_message(session: Session, ticket: Ticket) -> None:
    """Give a ticket that came from another channel (API, form) its first message row, so its
    original text survives once ``Ticket.body`` becomes the whole conversation."""
    assert ticket.id is not None
    stmt = select(TicketMessage.id).where(TicketMessage.ticket_id == ticket.id).limit(1)
    if session.exec(stmt).first() is not None:
        return
    session.add(
        TicketMessage(
            ticket_id=ticket.id,
            sender=ticket.customer_email,
            subject=ticket.subject,
            body=ticket.body,
            body_original=ticket.body,
            received_at=ticket.received_at or ticket.created_at,
        )
    )


def conversation(session: Session, ticket_id: int, limit: int) -> str:
    """All messages of a ticket, oldest first, cleaned; the oldest are dropped past ``limit``."""
    stmt = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
    messages = sorted(
        session.exec(stmt).all(),
        key=lambda m: (_as_utc(m.received_at or m.created_at), m.id or 0),
    )
    parts = [_render(m) for m in messages]
    kept: list[str] = []
    size = 0
    for part in reversed(parts):
        if kept and size + len(part) + len(THREAD_SEPARATOR) + 40 > limit:
            break
        kept.insert(0, part)
        size += len(part) + len(THREAD_SEPARATOR)
    omitted = len(parts) - len(kept)
    if omitted:
        kept.insert(0, f"[{omitted} earlier message(s) omitted]")
    return THREAD_SEPARATOR.join(kept)[:limit]


def _render(message: TicketMessage) -> str:
    when = message.received_at or message.created_at
    return f"From: {message.sender or 'unknown'}\nDate: {_as_utc(when):%Y-%m-%d %H:%M} UTC\n\n" + (
        escape_separator(message.body)
    )


def _as_utc(value: datetime | None) -> datetime:
    if value is None:
        return utcnow()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
