"""Persist first, send after: the one path every channel (API, email, backfill) uses.

A producer only commits the ticket; its empty ``enqueued_at`` is the "to send" mark, in the
same transaction. Publishing is the relay's (``dispatch.relay``): the API nudges the relay of
its own process, and a command may send its tickets itself through the same claim, at its
own pace (``send_now``). Whatever a producer did not send, any running relay sends after
``TICKETFLOW_RELAY_HANDOFF_S``: a lost message or a Redis outage never means a lost ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from dispatch.publisher import Publisher
from dispatch.relay import relay
from shared import metrics
from shared.models import Ticket, TicketCreate, TicketStatus, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeResult:
    ticket: Ticket
    created: bool


def find_existing(session: Session, source: str, external_id: str | None) -> Ticket | None:
    if external_id is None:
        return None
    stmt = select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id)
    return session.exec(stmt).first()


def persist_ticket(
    session: Session,
    data: TicketCreate,
    queue: str,
    extra: dict[str, Any] | None = None,
) -> tuple[Ticket, bool]:
    """Insert the ticket, or return the one already stored under (source, external_id).

    ``extra``: table fields a channel sets itself (the e-mail channel's sender trust, flag).
    """
    existing = find_existing(session, data.source, data.external_id)
    if existing is not None:
        return existing, False
    ticket = Ticket.model_validate(data, update={"queue": queue, **(extra or {})})
    session.add(ticket)
    try:
        session.commit()
    except IntegrityError:
        # Two producers raced on the same external id: the other one won, use its row.
        session.rollback()
        existing = find_existing(session, data.source, data.external_id)
        if existing is None:
            raise
        return existing, False
    return ticket, True


def send_now(
    session: Session,
    publisher: Publisher,
    ticket_ids: Sequence[int],
    before_each: Callable[[], None] | None = None,
) -> int:
    """Publish these stored tickets now if still unsent; returns how many this call sent.

    Commits first (the session must not hold a connection while Redis answers). Raises
    ``TransientError`` when Redis is away: the tickets stay stored and a relay sends them.
    """
    session.commit()
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    try:
        return relay(bind, publisher, ids=ticket_ids, before_each=before_each)
    finally:
        # The claim wrote through its own connection: loaded tickets must not keep the old
        # ``enqueued_at``, or a later retriage's "unsent" would look like no change at all.
        session.expire_all()


def submit_ticket(session: Session, data: TicketCreate, queue: str) -> IntakeResult:
    """Store a new ticket, to be sent by a relay; a known (source, external_id) returns the
    stored one (whose message is sent, or will be, already)."""
    ticket, created = persist_ticket(session, data, queue)
    metrics.record_ticket_received(data.source, "created" if created else "duplicate")
    return IntakeResult(ticket=ticket, created=created)


def retriage(session: Session, ticket: Ticket, queue: str) -> None:
    """Queue a ticket again under a new revision (new message in its thread, model upgrade);
    committed unsent, for a relay or ``send_now``."""
    ticket.revision += 1
    ticket.status = TicketStatus.queued
    ticket.queue = queue
    ticket.enqueued_at = None
    ticket.lease_owner = None
    ticket.lease_expires_at = None
    ticket.last_error = None
    ticket.updated_at = utcnow()
    session.add(ticket)
    session.commit()
