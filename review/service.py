"""The human decision on a drafted reply. Edits and corrected labels are kept as training data.

An approval (or edit) writes the reply to send into the delivery outbox in the same
transaction as the review (``delivery.outbox``); a rejection writes none.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select, update

from review.claims import free_for, held_by_other, taken_message
from review.examples import record_example, refuse_blocked_approval
from review.outbox import add_reply, add_review_event, withdraw_reply
from shared import metrics
from shared.config import Settings, get_settings
from shared.errors import ConflictError, InputError, NotFoundError
from shared.models import (
    ReplyExample,
    Review,
    ReviewCreate,
    ReviewDecision,
    Ticket,
    TicketStatus,
    TriageResult,
    utcnow,
)


def validate_review(data: ReviewCreate, labels: dict[str, list[str]]) -> None:
    """Refuse a payload that is well-formed but contradicts the taxonomy or the decision.

    ``labels``: what workers predict now per field (see ``shared.taxonomy.current_labels``)."""
    if data.decision == ReviewDecision.edit and not (data.edited_reply or "").strip():
        raise InputError("decision 'edit' needs a non-empty edited_reply")
    if data.decision != ReviewDecision.edit and data.edited_reply is not None:
        # Approving or rejecting would silently throw the reviewer's text away.
        raise InputError(
            f"edited_reply is only used with decision 'edit', not {data.decision.value!r}"
        )
    for field, allowed in labels.items():
        value = getattr(data, f"corrected_{field}")
        if value is not None and value not in allowed:
            raise InputError(f"corrected_{field} {value!r} is not one of {allowed}")


def submit_review(
    session: Session,
    ticket_id: int,
    data: ReviewCreate,
    labels: dict[str, list[str]],
    settings: Settings | None = None,
    blocking: Collection[str] = (),
    deliver: bool = True,
    reviewer: str | None = None,
) -> Review:
    """Record the decision. ``blocking``: warning codes that refuse an unedited approval;
    ``deliver=False``: the reply was already sent elsewhere (an agent answered in the
    helpdesk, ``connectors.inbound``): the review and its example are kept, nothing is sent;
    ``reviewer``: who decides (the API passes the authenticated caller, never the body's)."""
    validate_review(data, labels)
    who = (reviewer or data.reviewer or "").strip()
    if not who:
        raise InputError("a review needs a reviewer: the logged-in user or a named key")
    settings = settings or get_settings()
    ticket = session.exec(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).first()
    if ticket is None:
        raise NotFoundError(f"ticket {ticket_id} not found")
    if ticket.status in (TicketStatus.approved, TicketStatus.rejected):
        raise ConflictError(f"ticket {ticket_id} was already reviewed ({ticket.status})")
    if ticket.status != TicketStatus.triaged:
        raise ConflictError(
            f"ticket {ticket_id} has no draft to review yet (status {ticket.status})"
        )
    if held_by_other(ticket, who):  # issue 17: claims (review/claims.py)
        raise ConflictError(f"{taken_message(ticket)}: it is theirs to decide")
    if data.revision != ticket.revision:
        raise ConflictError(
            f"ticket {ticket_id} was triaged again: its draft is now revision {ticket.revision}, "
            f"not the revision {data.revision} reviewed; reload it"
        )
    result = session.exec(
        select(TriageResult)
        .where(TriageResult.ticket_id == ticket_id, TriageResult.revision == ticket.revision)
        .order_by(col(TriageResult.id).desc())
    ).first()
    if result is None:  # status says triaged, so this is a broken invariant, not user error
        raise ConflictError(f"ticket {ticket_id} has no triage result for its revision")
    if data.decision == ReviewDecision.approve:  # issue 20: guardrails
        refuse_blocked_approval(ticket_id, result.warnings, blocking)
    edited = data.decision == ReviewDecision.edit
    final = (
        None
        if data.decision == ReviewDecision.reject
        else (data.edited_reply if edited else result.draft_reply)
    )
    review = Review(
        ticket_id=ticket_id,
        triage_result_id=result.id or 0,
        decision=data.decision,
        reviewer=who,
        final_reply=final,
        edited=edited,
        corrected_category=data.corrected_category,
        corrected_priority=data.corrected_priority,
        corrected_sentiment=data.corrected_sentiment,
        corrected_language=data.corrected_language,
        note=data.note,
    )
    decided = (
        TicketStatus.rejected if data.decision == ReviewDecision.reject else TicketStatus.approved
    )
    # Conditional on the state read above: SQLite ignores FOR UPDATE, so of two concurrent
    # reviews (or a review racing a re-triage) only one may match.
    claimed = session.exec(
        update(Ticket)
        .where(
            col(Ticket.id) == ticket_id,
            col(Ticket.status) == TicketStatus.triaged,
            col(Ticket.revision) == data.revision,
            free_for(who, utcnow()),  # an expired claim is free again
        )
        .values(status=decided, updated_at=utcnow(), claimed_by=None, claimed_until=None)
    )
    if claimed.rowcount != 1:
        session.rollback()
        raise ConflictError(f"ticket {ticket_id} changed while it was being reviewed: reload it")
    session.add(review)
    if final is not None and deliver:
        add_reply(session, ticket, final, settings)
    add_review_event(session, settings, ticket, data.decision.value, who)
    record_example(session, ticket, result, review)  # issue 20: approved replies teach
    session.commit()
    session.refresh(review)
    waited = _aware(review.created_at) - _aware(result.created_at)
    metrics.record_review(data.decision.value, waited.total_seconds())
    return review


def _aware(at: datetime) -> datetime:
    """SQLite hands datetimes back naive; every stored one is UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def undo_approval(session: Session, ticket_id: int) -> Ticket:
    """Take an approval back while its reply is still on hold: the reply and the review are
    deleted and the ticket awaits a decision again. A 409 once sending has started."""
    ticket = session.exec(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).first()
    if ticket is None:
        raise NotFoundError(f"ticket {ticket_id} not found")
    if ticket.status != TicketStatus.approved:
        raise ConflictError(f"ticket {ticket_id} is not approved (status {ticket.status})")
    withdraw_reply(session, ticket_id)
    # A withdrawn approval teaches nothing: its reply example goes with it.
    session.exec(delete(ReplyExample).where(col(ReplyExample.ticket_id) == ticket_id))
    session.exec(
        delete(Review).where(
            col(Review.ticket_id) == ticket_id,
            col(Review.triage_result_id).in_(
                select(TriageResult.id).where(
                    TriageResult.ticket_id == ticket_id, TriageResult.revision == ticket.revision
                )
            ),
        )
    )
    reopened = session.exec(
        update(Ticket)
        .where(
            col(Ticket.id) == ticket_id,
            col(Ticket.status) == TicketStatus.approved,
            col(Ticket.revision) == ticket.revision,
        )
        .values(status=TicketStatus.triaged, updated_at=utcnow())
    )
    if reopened.rowcount != 1:
        session.rollback()
        raise ConflictError(f"ticket {ticket_id} changed while it was being undone: reload it")
    session.commit()
    session.refresh(ticket)
    return ticket
