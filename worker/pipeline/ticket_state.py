"""A ticket's status changes during triage, each one conditional on the revision being processed.

The producer may bump a ticket's revision (a new message in its thread) while a worker is still
on the old one, and a message may be delivered twice. So every status write here is one
``UPDATE ... WHERE id = :id AND revision = :rev`` whose row count says whether it applied: an
old revision never stamps the new one with its status. Claim and failure also require that no
result exists for the revision, so a second delivery cannot undo the first one's ``triaged``.
A conditional UPDATE is atomic on PostgreSQL (a concurrent writer's row is re-checked) and on
SQLite (one writer at a time), so no row lock is held while history is read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, func, update
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col, select

from shared.connector_writes import add_triage_writes
from shared.errors import TransientError
from shared.models import Ticket, TicketMessage, TicketStatus, TriageResult, utcnow
from shared.webhook_events import add_event
from worker.drafting.prompting import TicketView
from worker.pipeline.history import load_history

log = logging.getLogger(__name__)

# Database errors that say "try again later", not "this ticket is bad".
DB_UNAVAILABLE = (OperationalError, PoolTimeout)


class Outcome(StrEnum):
    triaged = "triaged"
    duplicate = "duplicate"  # a result for this revision exists already
    stale = "stale"  # a newer revision was queued; that message will do the work
    missing = "missing"  # no such ticket (deleted); nothing to do


def transient(err: Exception) -> TransientError:
    return TransientError(f"database unavailable: {err.__class__.__name__}: {err}")


def _at_revision(ticket_id: int, revision: int) -> Any:
    """An UPDATE of the ticket that matches no row once its revision has moved on."""
    return update(Ticket).where(col(Ticket.id) == ticket_id, col(Ticket.revision) == revision)


def _no_result(ticket_id: int, revision: int) -> Any:
    return ~exists().where(
        col(TriageResult.ticket_id) == ticket_id, col(TriageResult.revision) == revision
    )


def _why_not(s: Session, ticket_id: int, revision: int) -> Outcome:
    """Why a conditional write matched nothing: the ticket is gone, moved on, or done."""
    current = s.exec(select(Ticket.revision).where(col(Ticket.id) == ticket_id)).first()
    if current is None:
        return Outcome.missing
    return Outcome.stale if current != revision else Outcome.duplicate


def claim(
    db: DbEngine, ticket_id: int, revision: int, holder: str = "", lease_s: float = 0.0
) -> tuple[Outcome | None, TicketView, int]:
    """Mark the ticket processing (held by ``holder`` for ``lease_s``, see
    ``worker.edge.leases``) and return what the prompt needs and its queue time (ms); an
    outcome instead (with an empty view) when there is nothing to do."""
    nothing = TicketView("", "")
    with Session(db, expire_on_commit=False) as s:
        ticket = s.get(Ticket, ticket_id)
        if ticket is None:
            return Outcome.missing, nothing, 0
        if revision != ticket.revision:
            return Outcome.stale, nothing, 0
        done = s.exec(
            select(TriageResult.id).where(
                TriageResult.ticket_id == ticket_id, TriageResult.revision == revision
            )
        ).first()
        if done is not None:
            _settle_duplicate(s, ticket_id, revision)
            return Outcome.duplicate, nothing, 0
        view = TicketView(
            subject=ticket.subject,
            body=ticket.body,
            customer_name=ticket.customer_name,
            # Before the write: no lock held meanwhile. A sender that could not be
            # authenticated gets no one's history (a forged From must not pull the victim's).
            history=tuple(load_history(s, ticket)) if ticket.sender_verified is not False else (),
            thread=_is_thread(s, ticket_id),
        )
        now = utcnow()
        queued_ms = (
            int((now - ticket.enqueued_at).total_seconds() * 1000) if ticket.enqueued_at else 0
        )
        lease = {"lease_owner": holder, "lease_expires_at": now + timedelta(seconds=lease_s)}
        claimed = s.exec(
            _at_revision(ticket_id, revision)
            .where(_no_result(ticket_id, revision))
            .values(
                status=TicketStatus.processing,
                attempts=col(Ticket.attempts) + 1,
                updated_at=now,
                **(lease if lease_s > 0 else {}),
            )
        ).rowcount
        s.commit()
        if not claimed:
            return _why_not(s, ticket_id, revision), nothing, 0
        return None, view, max(queued_ms, 0)


def _is_thread(s: Session, ticket_id: int) -> bool:
    """Whether the body is a conversation of several stored messages (joined by the e-mail
    channel with its separator); a single message's "---" lines are the customer's."""
    stmt = select(func.count()).where(col(TicketMessage.ticket_id) == ticket_id)
    return (s.exec(stmt).one() or 0) > 1


def _settle_duplicate(s: Session, ticket_id: int, revision: int) -> None:
    """A result exists, so a delivery that lost a race must not leave the ticket processing."""
    s.exec(
        _at_revision(ticket_id, revision)
        .where(col(Ticket.status).in_((TicketStatus.processing, TicketStatus.failed)))
        .values(status=TicketStatus.triaged, last_error=None, updated_at=utcnow())
    )
    s.commit()


def store(db: DbEngine, result: TriageResult, webhook_urls: Sequence[str] = ()) -> Outcome:
    """Insert the result (one per ticket and revision) and mark the ticket triaged if it is
    still at that revision; a newer revision keeps its status, the old result is kept. The
    ``ticket.triaged`` webhook event and a helpdesk ticket's write-backs commit with it."""
    ticket_id, revision = result.ticket_id, result.revision
    with Session(db, expire_on_commit=False) as s:
        try:
            s.add(result)
            s.flush()  # a second delivery's duplicate fails here, inside the try
            updated = s.exec(
                _at_revision(ticket_id, revision).values(
                    status=TicketStatus.triaged, last_error=None, updated_at=utcnow()
                )
            ).rowcount
            if updated:
                add_event(s, webhook_urls, "ticket.triaged", ticket_id, _triaged_data(result))
                ticket = s.get(Ticket, ticket_id)
                if ticket is not None:  # helpdesk tickets: labels and draft written back
                    add_triage_writes(s, ticket, result)
            s.commit()
        except IntegrityError:
            s.rollback()  # another delivery of the same message got there first
            return Outcome.duplicate
    if not updated:
        log.info("ticket %s moved past revision %s while it was triaged", ticket_id, revision)
    return Outcome.triaged


def _triaged_data(result: TriageResult) -> dict[str, object]:
    fields = ("revision", "category", "priority", "sentiment", "language", "needs_human_triage")
    return {f: getattr(result, f) for f in fields}


def mark_failed(db: DbEngine, ticket_id: int, revision: int, reason: str) -> bool:
    """Record a readable reason; True if it applied. A newer revision, or one that has a result,
    is left alone. Raises ``TransientError`` when the database cannot be reached."""
    try:
        with Session(db) as s:
            failed = s.exec(
                _at_revision(ticket_id, revision)
                .where(_no_result(ticket_id, revision))
                .values(status=TicketStatus.failed, last_error=reason[:2000], updated_at=utcnow())
            ).rowcount
            s.commit()
    except DB_UNAVAILABLE as err:
        raise transient(err) from err
    return bool(failed)
