"""The workspace's request inputs, each defined once: who the reviewer is, and the queue
filter as query parameters (the same on the listing, the counts and "next")."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, status

from producer.api.deps import require_write_key
from review.filters import QueueFilter

Label = Annotated[str | None, Query(min_length=1, max_length=100)]
Hours = Annotated[float | None, Query(ge=0, le=24 * 3650)]
Confidence = Annotated[float | None, Query(ge=0, le=1)]


def current_reviewer(
    _: Annotated[None, Depends(require_write_key)],
    x_reviewer: Annotated[str | None, Header(max_length=200)] = None,
) -> str:
    """The reviewer acting: the one place identity enters the workspace's routes."""
    name = (x_reviewer or "").strip()
    if not name:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "say who you are: X-Reviewer header")
    return name


ReviewerDep = Annotated[str, Depends(current_reviewer)]


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
