"""The review queue's filters: one dataclass, applied to any select over tickets joined to their
current triage result (``review.queries``), so the listing, the counts and "next" agree."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import col

from shared.models import Ticket, TriageResult, utcnow

# The fields whose values the workspace counts (``review.facets``), and their columns.
FACETS: dict[str, Any] = {
    "category": TriageResult.category,
    "priority": TriageResult.priority,
    "language": TriageResult.language,
    "sentiment": TriageResult.sentiment,
    "needs_triage": TriageResult.needs_human_triage,
    "source": Ticket.source,
}


@dataclass(frozen=True)
class QueueFilter:
    """What a reviewer narrowed the queue to; ``None`` everywhere: every awaiting ticket."""

    category: str | None = None
    priority: str | None = None
    language: str | None = None
    sentiment: str | None = None
    needs_triage: bool | None = None
    source: str | None = None
    # The category's confidence, both ends included.
    min_confidence: float | None = None
    max_confidence: float | None = None
    # Hours since the ticket was stored: at least min_age_h old, at most max_age_h.
    min_age_h: float | None = None
    max_age_h: float | None = None
    # Words searched in subject and body, case-insensitively.
    q: str | None = None

    def without(self, name: str) -> QueueFilter:
        """The same filter with one facet left open: its counts show every value."""
        return replace(self, **{name: None})


def _like(text: str) -> str:
    """``%text%`` with LIKE's own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conditions(f: QueueFilter) -> list[ColumnElement[bool]]:
    """The filter as WHERE conditions over ``Ticket`` joined to ``TriageResult``."""
    out: list[ColumnElement[bool]] = []
    for name, column in FACETS.items():
        value = getattr(f, name)
        if value is not None:
            out.append(col(column) == value)
    conf = col(TriageResult.category_confidence)
    if f.min_confidence is not None:
        out.append(conf >= f.min_confidence)
    if f.max_confidence is not None:
        out.append(conf <= f.max_confidence)
    now = utcnow()
    if f.min_age_h is not None:
        out.append(col(Ticket.created_at) <= now - timedelta(hours=f.min_age_h))
    if f.max_age_h is not None:
        out.append(col(Ticket.created_at) >= now - timedelta(hours=f.max_age_h))
    for word in (f.q or "").split():
        pattern = _like(word)
        out.append(
            or_(
                col(Ticket.subject).ilike(pattern, escape="\\"),
                col(Ticket.body).ilike(pattern, escape="\\"),
            )
        )
    return out
