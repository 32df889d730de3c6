"""Bulk rejection (spam): each ticket is decided on its own, like a single rejection, so one
that was taken or re-triaged meanwhile is reported and the others still go through."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field
from sqlmodel import Session

from review.service import submit_review
from shared.config import Settings
from shared.errors import ConflictError, InputError, NotFoundError
from shared.models import ReviewCreate, ReviewDecision


class BulkItem(BaseModel):
    id: int = Field(ge=1, le=2**31 - 1)
    revision: int = Field(ge=1)


class BulkReject(BaseModel):
    tickets: list[BulkItem] = Field(min_length=1, max_length=200)
    note: str = Field(min_length=1, max_length=5000)


class BulkFailure(BaseModel):
    id: int
    reason: str


class BulkResult(BaseModel):
    rejected: list[int]
    failed: list[BulkFailure]


def bulk_reject(
    session: Session,
    data: BulkReject,
    reviewer: str,
    labels: dict[str, list[str]],
    settings: Settings,
    before_each: Callable[[int], object] = lambda _: None,
) -> BulkResult:
    """``before_each(ticket_id)`` adds to the session what must be stored with each decision
    and only with it (the route's audit event): a refused ticket rolls it back."""
    if not data.note.strip():
        raise InputError("a bulk rejection needs a reason")
    done: list[int] = []
    failed: list[BulkFailure] = []
    for item in data.tickets:
        review = ReviewCreate(
            decision=ReviewDecision.reject,
            reviewer=reviewer,
            revision=item.revision,
            note=data.note.strip(),
        )
        before_each(item.id)
        try:
            submit_review(session, item.id, review, labels, settings, reviewer=reviewer)
        except (ConflictError, NotFoundError) as err:
            session.rollback()
            failed.append(BulkFailure(id=item.id, reason=str(err)))
        else:
            done.append(item.id)
    return BulkResult(rejected=done, failed=failed)
