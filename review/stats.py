"""The workspace's header: how much awaits, how much was decided today (by everyone and by the
reviewer asking), and the median time from draft to decision today. "Today" is the UTC day."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, time

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from shared.models import Review, Ticket, TicketStatus, TriageResult, utcnow


class QueueStats(BaseModel):
    awaiting: int
    reviewed_today: int
    mine_today: int
    # Seconds from the draft being stored to the decision, median over today's decisions.
    median_decision_s: float | None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def queue_stats(session: Session, reviewer: str, now: datetime | None = None) -> QueueStats:
    now = now or utcnow()
    midnight = datetime.combine(now.date(), time(), tzinfo=UTC)
    awaiting = session.exec(
        select(func.count()).select_from(Ticket).where(Ticket.status == TicketStatus.triaged)
    ).one()
    today = session.exec(
        select(col(Review.reviewer), col(Review.created_at), col(TriageResult.created_at))
        .join(TriageResult, col(TriageResult.id) == col(Review.triage_result_id))
        .where(col(Review.created_at) >= midnight)
    ).all()
    waits = [(_aware(decided) - _aware(drafted)).total_seconds() for _, decided, drafted in today]
    return QueueStats(
        awaiting=awaiting,
        reviewed_today=len(today),
        mine_today=sum(1 for who, _, _ in today if who == reviewer),
        median_decision_s=round(statistics.median(waits), 1) if waits else None,
    )
