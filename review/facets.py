"""Counts per filter value over the awaiting queue: each facet is counted with the other
filters applied and its own left open, so a reviewer sees what choosing another value gives."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from review.filters import FACETS, QueueFilter
from review.queries import awaiting_conditions, current_join
from shared.models import Ticket, TriageResult


def facet_counts(session: Session, filt: QueueFilter) -> dict[str, dict[str, int]]:
    """``{"category": {"billing": 12, ...}, "needs_triage": {"true": 3, "false": 9}, ...}``,
    each facet's values most frequent first."""
    out: dict[str, dict[str, int]] = {}
    for name, column in FACETS.items():
        value = col(column)
        rows = session.exec(
            select(value, func.count())
            .select_from(Ticket)
            .join(TriageResult, current_join())
            .where(*awaiting_conditions(session, filt.without(name)))
            .group_by(value)
            .order_by(func.count().desc(), value)
        ).all()
        out[name] = {_key(v): n for v, n in rows}
    return out


def _key(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
