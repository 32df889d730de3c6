"""Counts per filter value over the awaiting queue: each facet is counted with the other
filters applied and its own left open, so a reviewer sees what choosing another value gives."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col

from review.filters import FACETS, QueueFilter
from review.queries import awaiting


def facet_counts(session: Session, filt: QueueFilter) -> dict[str, dict[str, int]]:
    """``{"category": {"billing": 12, ...}, "needs_triage": {"true": 3, "false": 9}, ...}``,
    each facet's values most frequent first."""
    out: dict[str, dict[str, int]] = {}
    for name, column in FACETS.items():
        value = col(column)
        stmt = (
            awaiting(session, filt.without(name))
            .with_only_columns(value, func.count(), maintain_column_froms=True)
            .group_by(value)
            .order_by(func.count().desc(), value)
        )
        rows = session.exec(stmt).all()  # type: ignore[call-overload]
        out[name] = {_key(v): n for v, n in rows}
    return out


def _key(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
