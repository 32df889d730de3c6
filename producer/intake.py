"""Persist first, then enqueue: the one path every channel (API, email, backfill) uses.

The row is committed before its message is published. If publishing fails the ticket stays
``queued`` with ``enqueued_at`` empty, and ``requeue_unsent`` (run by the API at start and
every ``requeue_interval_s``, and by ``ticketflow requeue``) sends it later: a lost message
never means a lost ticket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, and_, col, or_, select

from producer.enqueue import Enqueuer
from shared.errors import TransientError
from shared.models import Ticket, TicketCreate, TicketStatus, utcnow

log = logging.getLogger(__name__)
# Tickets read per query by the requeue sweep.
REQUEUE_PAGE = 500


@dataclass(frozen=True)
class IntakeResult:
    ticket: Ticket
    created: bool
    enqueued: bool


def find_existing(session: Session, source: str, external_id: str | None) -> Ticket | None:
    if external_id is None:
        return None
    stmt = select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id)
    return session.exec(stmt).first()


def persist_ticket(session: Session, data: TicketCreate, queue: str) -> tuple[Ticket, bool]:
    """Insert the ticket, or return the one already stored under (source, external_id)."""
    existing = find_existing(session, data.source, data.external_id)
    if existing is not None:
        return existing, False
    ticket = Ticket.model_validate(data, update={"queue": queue})
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


def send_ticket(session: Session, ticket: Ticket, enqueuer: Enqueuer) -> bool:
    """Publish the ticket's current revision and stamp ``enqueued_at``; False if Redis failed.

    The session's transaction ends before publishing, so no database connection sits idle in
    a transaction while Redis is slow or down: with every request holding one, a short Redis
    outage used to exhaust the pool and jam the API for minutes.
    """
    assert ticket.id is not None
    ticket_id, revision, queue = ticket.id, ticket.revision, ticket.queue
    session.commit()  # nothing is pending here; this returns the connection to the pool
    try:
        enqueuer.send(ticket_id, revision, queue)
    except TransientError as err:
        log.warning("ticket %s stored but not enqueued yet: %s", ticket.id, err)
        return False
    ticket.enqueued_at = utcnow()
    session.add(ticket)
    session.commit()
    return True


def submit_ticket(
    session: Session, data: TicketCreate, enqueuer: Enqueuer, queue: str
) -> IntakeResult:
    """Store a new ticket and queue it; a known (source, external_id) returns the stored one."""
    ticket, created = persist_ticket(session, data, queue)
    enqueued = ticket.enqueued_at is not None
    if created or not enqueued:
        enqueued = send_ticket(session, ticket, enqueuer)
    return IntakeResult(ticket=ticket, created=created, enqueued=enqueued)


def retriage(session: Session, ticket: Ticket, enqueuer: Enqueuer, queue: str) -> bool:
    """Queue a ticket again under a new revision (new message in its thread, model upgrade)."""
    ticket.revision += 1
    ticket.status = TicketStatus.queued
    ticket.queue = queue
    ticket.enqueued_at = None
    ticket.last_error = None
    ticket.updated_at = utcnow()
    session.add(ticket)
    session.commit()
    return send_ticket(session, ticket, enqueuer)


def requeue_unsent(
    session: Session,
    enqueuer: Enqueuer,
    older_than_s: int,
    unsent_after_s: int = 0,
    page_size: int = REQUEUE_PAGE,
) -> int:
    """Re-send tickets never published, or waiting/processing far longer than a task can take.

    ``unsent_after_s`` leaves alone a ticket stored moments ago, whose producer is about to
    send it. Sending twice is harmless: the worker writes one result per (ticket, revision).
    Rows are read in pages of ``page_size`` (by id), so a large backlog never loads at once,
    and a pass stops at the first message Redis refuses: the next pass picks up from there.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than_s)
    unsent_cutoff = now - timedelta(seconds=unsent_after_s)
    due = or_(
        and_(
            col(Ticket.status) == TicketStatus.queued,
            or_(
                and_(col(Ticket.enqueued_at).is_(None), col(Ticket.updated_at) <= unsent_cutoff),
                col(Ticket.enqueued_at) < cutoff,
            ),
        ),
        and_(col(Ticket.status) == TicketStatus.processing, col(Ticket.updated_at) < cutoff),
    )
    sent, after = 0, 0
    while True:
        page = session.exec(
            select(Ticket)
            .where(due, col(Ticket.id) > after)
            .order_by(col(Ticket.id))
            .limit(page_size)
        ).all()
        if not page:
            return sent
        after = page[-1].id or after
        for ticket in page:
            if not send_ticket(session, ticket, enqueuer):
                return sent  # Redis refused: the rest waits for the next pass
            sent += 1
        if len(page) < page_size:
            return sent
