"""Re-process stored tickets (e.g. after a model upgrade) through ``intake.retriage``.

Resumable without a schema change: a run has a start marker ``started_at`` (kept by
``marker.RunMarker``) and only picks tickets whose current revision was enqueued before it.
Sending stamps ``enqueued_at`` (the relay's claim), so a ticket this run already re-queued
never matches again, even after a worker has triaged it back into a matching status. A ticket
that a crash or an outage left between retriage's commit and its publish (queued, new
revision, never sent, updated after the marker) is sent as is, without a second revision bump.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from dispatch.publisher import Publisher
from producer.backfill.ratelimit import RateLimiter
from producer.intake import retriage, send_now
from shared.errors import QueueUnavailable, TransientError
from shared.models import Ticket, TicketStatus, TriageResult

# Reviewed tickets (approved, rejected) are left alone unless asked for: their review is done.
DEFAULT_STATUSES = (TicketStatus.triaged, TicketStatus.failed)


@dataclass(frozen=True)
class ReprocessFilter:
    """Which tickets to re-process. Dates apply to ``received_at``, else ``created_at``."""

    statuses: tuple[TicketStatus, ...] = DEFAULT_STATUSES
    since: datetime | None = None
    until: datetime | None = None
    category: str | None = None  # of the latest triage result
    model_version: str | None = None  # latest result's classifier_version or draft_model

    def describe(self) -> dict[str, Any]:
        return asdict(self) | {"statuses": sorted(str(s) for s in self.statuses)}


@dataclass
class ReprocessCounts:
    matched: int = 0
    requeued: int = 0  # given a new revision this run
    resumed: int = 0  # new revision left unsent by an interrupted run, sent now
    enqueued: int = 0


def _filter_clauses(flt: ReprocessFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    when = func.coalesce(Ticket.received_at, Ticket.created_at)
    if flt.since is not None:
        clauses.append(when >= flt.since)
    if flt.until is not None:
        clauses.append(when < flt.until)
    if flt.category is None and flt.model_version is None:
        return clauses
    latest_rev = (
        select(func.max(TriageResult.revision))
        .where(TriageResult.ticket_id == Ticket.id)
        .correlate(Ticket)
        .scalar_subquery()
    )
    latest: list[ColumnElement[bool]] = [
        col(TriageResult.ticket_id) == Ticket.id,
        col(TriageResult.revision) == latest_rev,
    ]
    if flt.category is not None:
        latest.append(col(TriageResult.category) == flt.category)
    if flt.model_version is not None:
        latest.append(
            or_(
                col(TriageResult.classifier_version) == flt.model_version,
                col(TriageResult.draft_model) == flt.model_version,
            )
        )
    clauses.append(select(TriageResult.id).where(*latest).exists())
    return clauses


def _is_unsent_retriage(started_at: datetime, queue: str) -> ColumnElement[bool]:
    return and_(
        col(Ticket.status) == TicketStatus.queued,
        col(Ticket.enqueued_at).is_(None),
        col(Ticket.updated_at) >= started_at,
        col(Ticket.queue) == queue,
    )


def candidate_clause(flt: ReprocessFilter, started_at: datetime, queue: str) -> ColumnElement[bool]:
    """Tickets still to do in the run that started at ``started_at``."""
    to_requeue = and_(
        col(Ticket.status).in_([str(s) for s in flt.statuses]),
        or_(col(Ticket.enqueued_at).is_(None), col(Ticket.enqueued_at) < started_at),
    )
    return and_(*_filter_clauses(flt), or_(to_requeue, _is_unsent_retriage(started_at, queue)))


def count_candidates(
    session: Session, flt: ReprocessFilter, started_at: datetime, queue: str
) -> int:
    stmt = select(func.count()).select_from(Ticket)
    return session.exec(stmt.where(candidate_clause(flt, started_at, queue))).one()


def reprocess(
    session: Session,
    flt: ReprocessFilter,
    publisher: Publisher,
    queue: str,
    *,
    started_at: datetime,
    rate: float = 0.0,
    dry_run: bool = False,
    page_size: int = 200,
    on_progress: Callable[[ReprocessCounts], None] | None = None,
    limiter: RateLimiter | None = None,
    counts: ReprocessCounts | None = None,
) -> ReprocessCounts:
    """Give each matching ticket a new revision on ``queue``; safe to run again.

    ``counts`` is filled in place, so a caller still has them when a lost queue stops the run.
    """
    limiter = limiter or RateLimiter(rate)
    counts = counts if counts is not None else ReprocessCounts()
    where = candidate_clause(flt, started_at, queue)
    last_id = 0
    while True:
        stmt = (
            select(Ticket)
            .where(where, col(Ticket.id) > last_id)
            .order_by(col(Ticket.id))
            .limit(page_size)
        )
        page = session.exec(stmt).all()
        if not page:
            break
        for ticket in page:
            assert ticket.id is not None
            last_id = ticket.id
            counts.matched += 1
            if dry_run:
                if on_progress:
                    on_progress(counts)
                continue
            unsent = ticket.status == TicketStatus.queued and ticket.enqueued_at is None
            if not unsent:
                retriage(session, ticket, queue)
            try:
                send_now(session, publisher, [ticket.id], limiter.wait)
            except TransientError as err:
                raise QueueUnavailable(
                    f"could not reach the queue ({err}); {counts.enqueued} tickets were "
                    "re-queued: a running API or worker sends the rest once Redis is back, or "
                    "run the same command again to finish (nothing is re-queued twice)"
                ) from err
            counts.resumed += unsent
            counts.requeued += not unsent
            counts.enqueued += 1
            if on_progress:
                on_progress(counts)
    return counts
