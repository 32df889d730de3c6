"""Approved replies become reply examples for later, similar tickets.

Written in the same transaction as the review, so an approval and its example come and go
together. Only approvals and edits: a rejected draft is never shown to the model or a reviewer
as something to copy. Review side, so no torch: workers embed the example's text themselves.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlmodel import Session

from shared.errors import ConflictError
from shared.models import (
    THREAD_SEPARATOR,
    ReplyExample,
    Review,
    ReviewDecision,
    Ticket,
    TriageResult,
)


def example_text(subject: str, body: str) -> str:
    """The ticket as workers embed it: subject, then a thread's newest message first (the same
    text the classifier and retrieval see, worker/drafting/prompting.py:classification_text)."""
    newest_first = THREAD_SEPARATOR.join(reversed(body.strip().split(THREAD_SEPARATOR)))
    return f"{subject}\n{newest_first}".strip()


def record_example(session: Session, ticket: Ticket, result: TriageResult, review: Review) -> None:
    """Add the reviewed reply as an example; a rejection adds nothing."""
    if review.decision == ReviewDecision.reject or not (review.final_reply or "").strip():
        return
    session.add(
        ReplyExample(
            ticket_id=ticket.id,
            category=review.corrected_category or result.category,
            language=(review.corrected_language or result.language).lower(),
            customer_name=ticket.customer_name,
            ticket_text=example_text(ticket.subject, ticket.body),
            reply=review.final_reply or "",
        )
    )


def refuse_blocked_approval(
    ticket_id: int, warnings: Sequence[Mapping[str, Any]] | None, blocking: Collection[str]
) -> None:
    """An unedited approval of a draft with a blocking warning is a 409 that says why."""
    found = [
        w
        for w in warnings or []
        if w.get("code") in blocking and not w.get("fixed") and w.get("blocking", True)
    ]
    if found:
        reasons = "; ".join(str(w.get("message", w.get("code"))) for w in found)
        raise ConflictError(
            f"ticket {ticket_id}: the draft cannot be approved unedited ({reasons}). Edit the "
            "reply (decision 'edit'), or reject it."
        )
