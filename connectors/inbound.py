"""One verified helpdesk event -> a new ticket, a new message on one, a review, or nothing.

The same discipline as every producer (``producer.intake``): the ticket (status ``queued``,
empty ``enqueued_at``) and its first message commit together, and a relay publishes it; a
customer's new message re-triages the ticket under a new revision the way e-mail threading
does (``producer.email.ingest``). Idempotent on the helpdesk's ticket and message ids: each
message is stored under ``helpdesk:<name>#<ticket>/<message>`` (unique
``ticket_message.message_id``), so a redelivered webhook is a duplicate, never a second
ticket or a second re-triage.

An agent's public reply sent in the helpdesk is the review of the current draft, recorded
through the same path as a review in ticketflow (``review.service.submit_review``, without an
outbox reply: it was sent already): approved when it says what the draft said, else edited
with the sent text as the label. A poller (e.g. for a helpdesk without webhooks) calls
``handle_event`` with the events it reads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connectors.base import EventKind, InboundEvent, same_text
from producer.email.thread import conversation, ensure_first_message
from producer.intake import find_existing, retriage
from review.service import submit_review
from shared import metrics
from shared.config import Settings
from shared.connector_config import connector_source
from shared.errors import ConflictError, InputError
from shared.models import (
    ReviewCreate,
    ReviewDecision,
    Ticket,
    TicketCreate,
    TicketMessage,
    TicketStatus,
    TriageResult,
    utcnow,
)

log = logging.getLogger(__name__)
TRUNCATED = "\n\n[message truncated]"


class Outcome(StrEnum):
    created = "created"  # a new ticket, queued for triage
    threaded = "threaded"  # a new customer message: the ticket is triaged again
    reviewed = "reviewed"  # an agent's reply in the helpdesk recorded as the review
    recorded = "recorded"  # an agent's reply stored on the ticket, with no draft to review
    duplicate = "duplicate"  # this message was stored before
    ignored = "ignored"  # nothing to do (e.g. an agent reply on a ticket ticketflow never saw)


@dataclass(frozen=True)
class InboundResult:
    outcome: Outcome
    ticket_id: int | None = None
    detail: str = ""


def message_key(name: str, event: InboundEvent) -> str:
    return f"{connector_source(name)}#{event.ticket_ref}/{event.message_ref}"[:998]


def handle_event(
    session: Session, settings: Settings, name: str, event: InboundEvent
) -> InboundResult:
    """Store what ``event`` says, once. Commits; raises ``InputError`` for an event whose
    fields cannot make a ticket."""
    key = message_key(name, event)
    stored = session.exec(select(TicketMessage.ticket_id).where(TicketMessage.message_id == key))
    known = stored.first()
    if known is not None:
        return InboundResult(Outcome.duplicate, known, "already stored")
    ticket = find_existing(session, connector_source(name), event.ticket_ref)
    if event.kind == EventKind.agent_reply:
        if ticket is None:
            return InboundResult(Outcome.ignored, None, "agent reply on a ticket not in ticketflow")
        return _agent_reply(session, settings, name, ticket, event, key)
    if ticket is None:
        return _open(session, settings, name, event, key)
    return _add_message(session, settings, ticket, event, key)


def _text(event: InboundEvent, limit: int) -> str:
    text = (event.body or "").strip() or event.subject.strip()
    if len(text) > limit:
        text = text[: limit - len(TRUNCATED)] + TRUNCATED
    return text


def _message(
    ticket_id: int, event: InboundEvent, key: str, body: str, sender: str | None
) -> TicketMessage:
    return TicketMessage(
        ticket_id=ticket_id,
        message_id=key,
        sender=(sender or "")[:320] or None,
        subject=event.subject[:1000],
        body=body,
        body_original=event.body or body,
        received_at=event.received_at or utcnow(),
    )


def _open(
    session: Session, settings: Settings, name: str, event: InboundEvent, key: str
) -> InboundResult:
    source = connector_source(name)
    fields = {
        "source": source,
        "external_id": event.ticket_ref,
        "customer_email": event.customer_email,
        "customer_name": (event.customer_name or "")[:200] or None,
        "subject": event.subject[:1000],
        "body": _text(event, settings.max_body_chars),
        "received_at": event.received_at,
    }
    try:
        data = TicketCreate(**fields)  # type: ignore[arg-type]
    except ValidationError as err:
        if not all(e["loc"] == ("customer_email",) for e in err.errors()):
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
            )
            raise InputError(f"the event cannot make a ticket: {problems}") from None
        data = TicketCreate(**{**fields, "customer_email": None})  # type: ignore[arg-type]
    ticket = Ticket.model_validate(data, update={"queue": settings.queue})
    session.add(ticket)
    try:
        session.flush()
        assert ticket.id is not None
        session.add(_message(ticket.id, event, key, data.body, data.customer_email))
        session.commit()  # ticket and first message together: persist first, then send
    except IntegrityError:
        session.rollback()  # a concurrent delivery of the same event stored it
        metrics.record_ticket_received(source, "duplicate")
        again = find_existing(session, source, event.ticket_ref)
        return InboundResult(Outcome.duplicate, again.id if again else None, "stored concurrently")
    metrics.record_ticket_received(source, "created")
    return InboundResult(Outcome.created, ticket.id)


def _add_message(
    session: Session, settings: Settings, ticket: Ticket, event: InboundEvent, key: str
) -> InboundResult:
    assert ticket.id is not None
    body = _text(event, settings.max_body_chars)
    try:
        ensure_first_message(session, ticket)
        session.add(_message(ticket.id, event, key, body, event.customer_email))
        session.flush()
        ticket.body = conversation(session, ticket.id, settings.max_body_chars)
        retriage(session, ticket, settings.queue)  # commits message, body and revision together
    except IntegrityError:
        session.rollback()
        return InboundResult(Outcome.duplicate, ticket.id, "stored concurrently")
    return InboundResult(Outcome.threaded, ticket.id)


def _agent_reply(
    session: Session,
    settings: Settings,
    name: str,
    ticket: Ticket,
    event: InboundEvent,
    key: str,
) -> InboundResult:
    assert ticket.id is not None
    body = _text(event, settings.max_body_chars)
    reviewer = f"{event.author or 'agent'} (in {name})"[:200]
    result = _current_result(session, ticket)
    if ticket.status == TicketStatus.triaged and result is not None and body:
        same = same_text(body, result.draft_reply)
        data = ReviewCreate(
            decision=ReviewDecision.approve if same else ReviewDecision.edit,
            reviewer=reviewer,
            revision=ticket.revision,
            edited_reply=None if same else body[:50_000],
        )
        ensure_first_message(session, ticket)
        session.add(_message(ticket.id, event, key, body, event.author))
        try:
            submit_review(session, ticket.id, data, {}, settings, deliver=False)
        except (ConflictError, IntegrityError) as err:  # reviewed meanwhile: keep the message
            session.rollback()
            log.info("ticket %s: helpdesk reply not recorded as a review: %s", ticket.id, err)
        else:
            return InboundResult(Outcome.reviewed, ticket.id, data.decision.value)
    try:
        ensure_first_message(session, ticket)
        session.add(_message(ticket.id, event, key, body, event.author))
        session.commit()
    except IntegrityError:
        session.rollback()
        return InboundResult(Outcome.duplicate, ticket.id, "stored concurrently")
    return InboundResult(Outcome.recorded, ticket.id, f"ticket is {ticket.status}")


def _current_result(session: Session, ticket: Ticket) -> TriageResult | None:
    stmt = (
        select(TriageResult)
        .where(TriageResult.ticket_id == ticket.id, TriageResult.revision == ticket.revision)
        .order_by(col(TriageResult.id).desc())
    )
    return session.exec(stmt).first()
