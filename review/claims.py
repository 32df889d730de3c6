"""Claims: a reviewer who opens a ticket has it to themselves for ``TICKETFLOW_CLAIM_S``.

A claim is two columns on the ticket (``claimed_by``, ``claimed_until``) set by a conditional
``UPDATE`` that matches only while the ticket awaits a decision and is free (unclaimed, the
caller's own, or expired), so two reviewers can never both hold it. "Next" picks the first
free ticket of a filtered queue: on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so two reviewers
pressing next at once lock different rows; on SQLite (one writer at a time) by trying the
candidates in order until one conditional ``UPDATE`` matches. Decisions check the same
condition (``review.service``): a ticket someone else holds is a 409.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select, update

from review.filters import QueueFilter
from review.queries import awaiting_conditions, current_join, queue_order
from shared.errors import ConflictError, NotFoundError
from shared.models import Ticket, TicketStatus, TriageResult, utcnow

CANDIDATES = 20  # SQLite: tickets tried per pass before the queue is read again


def free_for(reviewer: str, now: datetime) -> ColumnElement[bool]:
    """The ticket is unclaimed, claimed by ``reviewer``, or its claim ran out."""
    return or_(
        col(Ticket.claimed_by).is_(None),
        col(Ticket.claimed_by) == reviewer,
        col(Ticket.claimed_until) < now,
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def held_by_other(ticket: Ticket, reviewer: str, now: datetime | None = None) -> bool:
    return (
        ticket.claimed_by is not None
        and ticket.claimed_by != reviewer
        and ticket.claimed_until is not None
        and _aware(ticket.claimed_until) >= (now or utcnow())
    )


def taken_message(ticket: Ticket) -> str:
    until = _aware(ticket.claimed_until or utcnow()).strftime("%H:%M:%S UTC")
    return f"{ticket.claimed_by} is working on ticket {ticket.id} (claimed until {until})"


def _try(session: Session, ticket_id: int, reviewer: str, claim_s: float) -> bool:
    now = utcnow()
    done = session.exec(
        update(Ticket)
        .where(
            col(Ticket.id) == ticket_id,
            col(Ticket.status) == TicketStatus.triaged,
            free_for(reviewer, now),
        )
        .values(claimed_by=reviewer, claimed_until=now + timedelta(seconds=claim_s))
    )
    return bool(done.rowcount == 1)


def _release_others(session: Session, reviewer: str, keep: int | None) -> None:
    """One open ticket per reviewer: moving on gives the previous one back to the queue.

    Rows another transaction has locked are skipped (PostgreSQL): that one is taking over an
    expired claim of ours, and waiting for it could deadlock with its own release."""
    mine = select(col(Ticket.id)).where(col(Ticket.claimed_by) == reviewer)
    if keep is not None:
        mine = mine.where(col(Ticket.id) != keep)
    session.exec(
        update(Ticket)
        .where(col(Ticket.id).in_(mine.with_for_update(skip_locked=True)))
        .values(claimed_by=None, claimed_until=None)
    )


def claim(session: Session, ticket_id: int, reviewer: str, claim_s: float) -> Ticket:
    """Claim (or renew) one ticket; 404 if there is none, 409 if it is decided or taken. The
    target is taken before the previous claim is given back: locks in one order, no deadlock."""
    if not _try(session, ticket_id, reviewer, claim_s):
        session.rollback()
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFoundError(f"ticket {ticket_id} not found")
        if ticket.status != TicketStatus.triaged:
            raise ConflictError(
                f"ticket {ticket_id} is not awaiting a decision (status {ticket.status})"
            )
        raise ConflictError(taken_message(ticket))
    _release_others(session, reviewer, keep=ticket_id)
    session.commit()
    return session.get_one(Ticket, ticket_id, populate_existing=True)


def claim_next(
    session: Session,
    reviewer: str,
    claim_s: float,
    filt: QueueFilter | None = None,
    after_id: int | None = None,
) -> Ticket | None:
    """Claim the first free ticket in ``filt`` after ``after_id`` (from the top when none is
    left after it); the reviewer's previous claim is given back. ``None``: no other ticket is
    free (the reviewer keeps the one they hold)."""
    starts = [after_id, None] if after_id is not None else [None]
    for start in starts:
        ticket_id = _claim_first(session, reviewer, claim_s, filt, start)
        if ticket_id is not None:
            return session.get_one(Ticket, ticket_id, populate_existing=True)
    return None


def _claim_first(
    session: Session,
    reviewer: str,
    claim_s: float,
    filt: QueueFilter | None,
    after_id: int | None,
) -> int | None:
    now = utcnow()
    ids = (
        select(col(Ticket.id))
        .join(TriageResult, current_join())
        .where(
            *awaiting_conditions(session, filt, after_id),
            free_for(reviewer, now),
            col(Ticket.claimed_by).is_distinct_from(reviewer),  # "next" moves on from yours
        )
        .order_by(*queue_order())
    )
    if session.get_bind().dialect.name == "postgresql":
        # Locks the row it returns and skips rows another transaction locked: two reviewers
        # pressing next at once get different tickets without waiting for each other.
        row = session.exec(ids.limit(1).with_for_update(skip_locked=True, of=Ticket)).first()
        if row is None:
            session.rollback()
            return None
        _release_others(session, reviewer, keep=row)
        if _try(session, row, reviewer, claim_s):
            session.commit()
            return row
        session.rollback()  # taken between the lock and the update: cannot happen, but safe
        return None
    for _ in range(5):  # each pass drops the tickets others took meanwhile
        candidates = list(session.exec(ids.limit(CANDIDATES)).all())
        session.commit()  # end the read: SQLite lets a writer in only outside a stale snapshot
        if not candidates:
            return None
        for ticket_id in candidates:
            if ticket_id is None:
                continue
            if _try(session, ticket_id, reviewer, claim_s):
                _release_others(session, reviewer, keep=ticket_id)
                session.commit()
                return ticket_id
            session.rollback()
    return None


def release(session: Session, ticket_id: int, reviewer: str) -> None:
    """Give a ticket back to the queue (closing it); someone else's claim is left alone."""
    session.exec(
        update(Ticket)
        .where(col(Ticket.id) == ticket_id, col(Ticket.claimed_by) == reviewer)
        .values(claimed_by=None, claimed_until=None)
    )
    session.commit()
