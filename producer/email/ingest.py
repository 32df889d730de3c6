"""One raw mail -> a new ticket, a reply in a thread, a duplicate, a skip or a quarantine.

Nothing is lost: a mail is either stored (as a ticket or a message of one), skipped for a
stated reason (machine-written mail), or kept whole in ``QuarantinedInput`` for a person.
Every outcome is committed before ``ingest`` returns, so the caller may then mark the mail
processed at its source. Only database trouble escapes, as ``TransientError``: the mail must
then stay unacknowledged and be read again on the next run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from dispatch.publisher import Publisher
from producer.email.automated import automated_reason
from producer.email.clean import strip_reply
from producer.email.parse import ParsedEmail, parse_email
from producer.email.thread import (
    conversation,
    ensure_first_message,
    find_thread,
    message_key,
)
from producer.email.trust import SenderTrust
from producer.intake import find_existing, persist_ticket, retriage, send_now
from shared.config import default
from shared.errors import TransientError
from shared.models import QuarantinedInput, Ticket, TicketCreate, TicketMessage, utcnow

log = logging.getLogger(__name__)

SOURCE = "email"
TICKET_BODY_MAX: int = default("max_body_chars")
DEFAULT_MAX_MESSAGE_BYTES: int = default("email_max_message_bytes")
DEFAULT_MAX_HEADER_BYTES: int = default("email_max_header_bytes")
TRUNCATED = "\n\n[message truncated]"


def _joined(flags: list[str]) -> str | None:
    return "; ".join(flags)[:500] if flags else None


def spoof_flag(ticket_id: int | None) -> str:
    return (
        f"possible spoof: points at ticket {ticket_id} but the sender is not its customer "
        "and could not be authenticated"
    )


class Outcome(StrEnum):
    ingested = "ingested"
    threaded = "threaded"
    duplicate = "duplicate"
    skipped = "skipped"
    quarantined = "quarantined"


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    ticket_id: int | None = None
    reason: str = ""


@dataclass
class IngestCounts:
    """Per-run totals, printed at the end so an operator sees what happened to every mail."""

    ingested: int = 0
    threaded: int = 0
    duplicate: int = 0
    skipped: int = 0
    quarantined: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def summary(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


class EmailIngester:
    """Holds what every mail of a run needs: the session, the queue and the limits."""

    def __init__(
        self,
        session: Session,
        publisher: Publisher,
        queue: str,
        *,
        max_body_chars: int = TICKET_BODY_MAX,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        trust: SenderTrust | None = None,
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.trust = trust or SenderTrust()
        self.session = session
        self.publisher = publisher
        self.queue = queue
        self.max_body_chars = max_body_chars
        self.max_message_bytes = max_message_bytes

    def ingest(self, raw: bytes, origin: str) -> IngestResult:
        """Store one mail; bad mail is quarantined, never raised."""
        try:
            return self._ingest(raw, origin)
        except SQLAlchemyError as err:
            self.session.rollback()
            raise TransientError(f"database error while storing {origin}: {err}") from err
        except Exception as err:  # a bug must not lose the mail or stop the run
            log.exception("unexpected error ingesting %s", origin)
            self.session.rollback()
            return self.quarantine(raw, origin, f"internal error: {type(err).__name__}: {err}")

    def quarantine(self, raw: bytes, origin: str, reason: str) -> IngestResult:
        """Keep the raw bytes for a person; the same bytes read again are kept once."""
        stmt = select(QuarantinedInput.id).where(
            QuarantinedInput.source == SOURCE, col(QuarantinedInput.raw) == raw
        )
        if self.session.exec(stmt).first() is not None:
            return IngestResult(Outcome.duplicate, reason=f"already quarantined: {reason}")
        row = QuarantinedInput(source=SOURCE, origin=origin[:1000], reason=reason, raw=raw)
        self.session.add(row)
        self.session.commit()
        return IngestResult(Outcome.quarantined, reason=reason)

    def _ingest(self, raw: bytes, origin: str) -> IngestResult:
        if len(raw) > self.max_message_bytes:
            return self.quarantine(
                raw, origin, f"message is {len(raw)} bytes, over the {self.max_message_bytes} limit"
            )
        try:
            mail = parse_email(raw, self.max_header_bytes)
        except Exception as err:
            return self.quarantine(raw, origin, f"not a readable email: {err}")
        if not mail.headers:
            return self.quarantine(raw, origin, "not an email: no header lines at all")
        key = message_key(mail.message_id, raw)
        flags = [f"header cut to the size limit: {', '.join(mail.cut_headers)}"] * bool(
            mail.cut_headers
        )
        reused = self._reused_by(mail, key)
        if reused is not None:
            # Another mail already stored under this Message-ID: this one is different, so it
            # is kept under an id of its own content, linked and flagged, never dropped.
            key, first = f"{key}#sha256:{hashlib.sha256(raw).hexdigest()[:24]}", reused
            flags.append(f"Message-ID reused by a different mail (first stored in ticket {first})")
        duplicate = self._duplicate(mail, key)
        if duplicate is not None:
            return duplicate
        reason = automated_reason(mail)
        if reason is not None:
            return IngestResult(Outcome.skipped, reason=reason)
        body = self._model_text(mail)
        if not body:
            return self.quarantine(raw, origin, "no text: empty body and subject, no attachments")
        verified = self.trust.verified(mail)
        match = find_thread(self.session, mail) if reused is None else None
        if match is not None and match.may_join(verified):
            return self._add_to_thread(match.ticket, mail, key, body, verified, flags)
        if match is None:
            return self._open_ticket(
                raw, origin, mail, key, body, verified, flag=_joined(flags), linked=reused
            )
        # Points at someone else's ticket: a ticket of its own, linked, and flagged unless an
        # authenticated sender merely quoted a ticket number.
        if not verified:
            flags.insert(0, spoof_flag(match.ticket.id))
        return self._open_ticket(
            raw, origin, mail, key, body, verified, flag=_joined(flags), linked=match.ticket.id
        )

    def _reused_by(self, mail: ParsedEmail, key: str) -> int | None:
        """The ticket of an earlier, different mail stored under this Message-ID; None when
        the id is new or the stored mail is this one (same subject and text: a re-read)."""
        stmt = select(TicketMessage).where(TicketMessage.message_id == key)
        stored = self.session.exec(stmt).first()
        if stored is None:
            return None
        same = stored.subject == mail.subject[:1000] and stored.body_original == mail.text
        return None if same else stored.ticket_id

    def _duplicate(self, mail: ParsedEmail, key: str) -> IngestResult | None:
        stmt = select(TicketMessage).where(TicketMessage.message_id == key)
        stored = self.session.exec(stmt).first()
        if stored is not None:
            return IngestResult(Outcome.duplicate, stored.ticket_id, "already stored")
        ticket = find_existing(self.session, SOURCE, key)
        if ticket is None:
            return None
        # The ticket was committed but the run stopped before its message row: add it now.
        self.session.add(self._message(ticket, mail, key, self._model_text(mail)))
        self.session.commit()
        return IngestResult(Outcome.duplicate, ticket.id, "already stored")

    def _model_text(self, mail: ParsedEmail) -> str:
        """What the model reads: the new text of the mail, or what else there is to go on."""
        text = strip_reply(mail.text) if mail.text.strip() else ""
        if not text and mail.attachments:
            names = ", ".join(a.filename for a in mail.attachments)
            text = f"(no text; attachments: {names})"
        if not text:
            text = mail.subject
        if len(text) > self.max_body_chars:
            text = text[: self.max_body_chars - len(TRUNCATED)] + TRUNCATED
        return text.strip()

    def _message(self, ticket: Ticket, mail: ParsedEmail, key: str, body: str) -> TicketMessage:
        assert ticket.id is not None
        return TicketMessage(
            ticket_id=ticket.id,
            message_id=key,
            sender=(mail.sender_email or "")[:320] or None,
            subject=mail.subject[:1000],
            body=body,
            body_original=mail.text,
            attachments=[a.as_dict() for a in mail.attachments],
            received_at=mail.date or utcnow(),
        )

    def _open_ticket(
        self,
        raw: bytes,
        origin: str,
        mail: ParsedEmail,
        key: str,
        body: str,
        verified: bool,
        *,
        flag: str | None = None,
        linked: int | None = None,
    ) -> IngestResult:
        fields_: dict[str, Any] = {
            "source": SOURCE,
            "external_id": key,
            "customer_email": mail.sender_email,
            "customer_name": (mail.sender_name or "")[:200] or None,
            "subject": mail.subject[:1000],
            "body": body,
            "received_at": mail.date,
        }
        try:
            data = TicketCreate(**fields_)
        except ValidationError as err:
            if not any(e["loc"] == ("customer_email",) for e in err.errors()):
                # Field names and messages only: pydantic's text repeats the input (the
                # body), and this reason is printed by the run.
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
                )
                return self.quarantine(raw, origin, f"not a valid ticket: {problems}")
            # An address the validator rejects still leaves a ticket worth triaging.
            data = TicketCreate(**{**fields_, "customer_email": None})
        extra = {"sender_verified": verified, "flag": flag, "linked_ticket_id": linked}
        ticket, created = persist_ticket(self.session, data, self.queue, extra)
        if not created:
            return IngestResult(Outcome.duplicate, ticket.id, "stored by a concurrent run")
        # The message row is committed before the queue message: persist first, then send.
        self.session.add(self._message(ticket, mail, key, body))
        self.session.commit()
        self._send(ticket)
        return IngestResult(Outcome.ingested, ticket.id)

    def _send(self, ticket: Ticket) -> None:
        assert ticket.id is not None
        try:
            send_now(self.session, self.publisher, [ticket.id])
        except (TransientError, SQLAlchemyError) as err:  # stored: any relay sends it later
            log.warning("ticket %s stored, not sent yet: %s", ticket.id, err)

    def _add_to_thread(
        self,
        ticket: Ticket,
        mail: ParsedEmail,
        key: str,
        body: str,
        verified: bool,
        flags: list[str],
    ) -> IngestResult:
        assert ticket.id is not None
        if flags:
            ticket.flag = _joined([*([ticket.flag] if ticket.flag else []), *flags])
        # One unauthenticated message makes the whole conversation unverified (no history).
        ticket.sender_verified = verified and ticket.sender_verified is not False
        try:
            ensure_first_message(self.session, ticket)
            self.session.add(self._message(ticket, mail, key, body))
            self.session.flush()
            ticket.body = conversation(self.session, ticket.id, self.max_body_chars)
            # retriage commits the new message, the body and the new revision together.
            retriage(self.session, ticket, self.queue)
        except IntegrityError:
            self.session.rollback()
            return IngestResult(Outcome.duplicate, ticket.id, "stored by a concurrent run")
        self._send(ticket)
        return IngestResult(Outcome.threaded, ticket.id)
