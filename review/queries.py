"""Read side for the API: tickets with their current triage result and review."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from review.filters import QueueFilter, conditions
from review.outbox import channel_for, reply_subject
from shared.errors import NotFoundError
from shared.models import (
    PRIORITY_RANK,
    OutboundMessage,
    OutboundPublic,
    ReplyPreview,
    Review,
    ReviewPublic,
    Ticket,
    TicketPage,
    TicketPublic,
    TicketStatus,
    TriagePublic,
    TriageResult,
)


def _current_result_join() -> ColumnElement[bool]:
    return and_(
        col(TriageResult.ticket_id) == col(Ticket.id),
        col(TriageResult.revision) == col(Ticket.revision),
    )


def to_public(session: Session, ticket: Ticket, *, new: bool = False) -> TicketPublic:
    """The ticket with its newest triage result and review; ``new``: just stored, so it has
    neither and the two look-ups are skipped (intake's hot path)."""
    if new:
        return TicketPublic.model_validate(ticket)
    result = session.exec(
        select(TriageResult)
        .where(TriageResult.ticket_id == ticket.id)
        .order_by(col(TriageResult.revision).desc())
    ).first()
    review = session.exec(
        select(Review).where(Review.ticket_id == ticket.id).order_by(col(Review.id).desc())
    ).first()
    outbound = session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.ticket_id == ticket.id)
        .order_by(col(OutboundMessage.id).desc())
    ).first()
    return TicketPublic.model_validate(
        ticket,
        update={
            "triage": TriagePublic.model_validate(result) if result else None,
            "review": ReviewPublic.model_validate(review) if review else None,
            "delivery": OutboundPublic.model_validate(outbound) if outbound else None,
            "reply_preview": _preview(ticket) if ticket.status == TicketStatus.triaged else None,
        },
    )


def _preview(ticket: Ticket) -> ReplyPreview:
    return ReplyPreview(
        channel=channel_for(ticket),
        recipient=ticket.customer_email,
        subject=reply_subject(ticket.id or 0, ticket.subject),
    )


def _latest_result_join() -> ColumnElement[bool]:
    """The newest result of each ticket: the one ``to_public`` shows, also while a newer
    revision is still queued, so a filter agrees with what the listing displays."""
    other = aliased(TriageResult)
    newest = (
        select(func.max(other.revision))
        .where(other.ticket_id == col(Ticket.id))
        .correlate(Ticket)
        .scalar_subquery()
    )
    return and_(col(TriageResult.ticket_id) == col(Ticket.id), col(TriageResult.revision) == newest)


def list_tickets(
    session: Session,
    status: TicketStatus | None,
    category: str | None,
    limit: int,
    offset: int,
    before_id: int | None = None,
) -> TicketPage:
    """Newest first. ``before_id`` (the last id of the previous page) pages without the shifts
    that new tickets cause to offsets."""
    stmt = select(Ticket)
    if category is not None:
        stmt = stmt.join(TriageResult, _latest_result_join()).where(
            TriageResult.category == category
        )
    if status is not None:
        stmt = stmt.where(Ticket.status == status)
    if before_id is not None:
        stmt = stmt.where(col(Ticket.id) < before_id)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(col(Ticket.id).desc()).offset(offset).limit(limit)).all()
    return TicketPage(
        items=[to_public(session, t) for t in rows], total=total, limit=limit, offset=offset
    )


def _after(session: Session, after_id: int, rank: ColumnElement[int]) -> ColumnElement[bool]:
    """Tickets that sort after ``after_id`` in the queue order. The anchor is found through its
    newest result, so it still works once that ticket has been reviewed and left the queue."""
    needs = col(TriageResult.needs_human_triage)
    anchor = session.exec(
        select(rank, needs, col(Ticket.created_at))
        .select_from(Ticket)
        .join(TriageResult, _latest_result_join())
        .where(col(Ticket.id) == after_id)
    ).first()
    if anchor is None:
        raise NotFoundError(
            f"after_id {after_id} is not a triaged ticket; start again without after_id"
        )
    r0, n0, c0 = anchor
    created, tid = col(Ticket.created_at), col(Ticket.id)
    return or_(
        rank > r0,
        and_(
            rank == r0,
            or_(
                needs.is_(False) if n0 else false(),  # needs-triage sorts first
                and_(
                    needs == n0,
                    or_(created > c0, and_(created == c0, tid > after_id)),
                ),
            ),
        ),
    )


def queue_rank() -> ColumnElement[int]:
    return case(PRIORITY_RANK, value=TriageResult.priority, else_=len(PRIORITY_RANK))


def queue_order() -> tuple[Any, ...]:
    """Most urgent first, needs-triage first, then oldest first; the id makes it a total
    order, so pages never swap tickets created in the same instant."""
    return (
        queue_rank(),
        col(TriageResult.needs_human_triage).desc(),
        col(Ticket.created_at),
        col(Ticket.id),
    )


def awaiting(
    session: Session, filt: QueueFilter | None = None, after_id: int | None = None
) -> SelectOfScalar[Ticket]:
    """Triaged tickets awaiting a decision, narrowed by ``filt``, after ``after_id``'s place."""
    return (
        select(Ticket)
        .join(TriageResult, _current_result_join())
        .where(*awaiting_conditions(session, filt, after_id))
    )


def awaiting_conditions(
    session: Session, filt: QueueFilter | None = None, after_id: int | None = None
) -> list[ColumnElement[bool]]:
    """``awaiting``'s WHERE, over ``Ticket`` joined to its current result (``current_join``)."""
    out = [col(Ticket.status) == TicketStatus.triaged]
    if filt is not None:
        out += conditions(filt)
    if after_id is not None:
        out.append(_after(session, after_id, queue_rank()))
    return out


def current_join() -> ColumnElement[bool]:
    """Joins a ticket to the result of its current revision (the draft awaiting review)."""
    return _current_result_join()


def review_queue(
    session: Session,
    limit: int,
    offset: int,
    after_id: int | None = None,
    filt: QueueFilter | None = None,
) -> TicketPage:
    """Triaged tickets awaiting a decision: most urgent first, then oldest first.

    ``after_id`` (the last id of the previous page) pages by position in that order, so
    tickets reviewed meanwhile do not shift later ones past the reader as offsets would.
    ``total`` counts what is left from there on, in the filter.
    """
    base = awaiting(session, filt, after_id)
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(base.order_by(*queue_order()).offset(offset).limit(limit)).all()
    return TicketPage(
        items=[to_public(session, t) for t in rows], total=total, limit=limit, offset=offset
    )
