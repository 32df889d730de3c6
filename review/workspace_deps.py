"""The workspace's request inputs, each defined once: who the reviewer is, and the queue
filter as query parameters (the same on the listing, the counts and "next")."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from access.deps import ReviewAccess
from review.filters import QueueFilter

Label = Annotated[str | None, Query(min_length=1, max_length=100)]
Hours = Annotated[float | None, Query(ge=0, le=24 * 3650)]
Confidence = Annotated[float | None, Query(ge=0, le=1)]


# The reviewer acting: a logged-in user with the review scope (or a key that has it); the one
# place identity enters the workspace's routes. ``.reviewer`` is the name claims and reviews
# record ("ana", or "key:NAME" for a machine).
ReviewerDep = ReviewAccess


def queue_filter(
    category: Label = None,
    priority: Label = None,
    language: Label = None,
    sentiment: Label = None,
    needs_triage: bool | None = None,
    source: Label = None,
    min_confidence: Confidence = None,
    max_confidence: Confidence = None,
    min_age_h: Hours = None,
    max_age_h: Hours = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> QueueFilter:
    return QueueFilter(
        category=category,
        priority=priority,
        language=language,
        sentiment=sentiment,
        needs_triage=needs_triage,
        source=source,
        min_confidence=min_confidence,
        max_confidence=max_confidence,
        min_age_h=min_age_h,
        max_age_h=max_age_h,
        q=q.strip() or None if q else None,
    )


FilterDep = Annotated[QueueFilter, Depends(queue_filter)]
