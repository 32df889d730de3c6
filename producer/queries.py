"""Read side for the API: tickets with their current triage result and review."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from shared.models import (
    PRIORITY_RANK,
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


def to_public(session: Session, ticket: Ticket) -> TicketPublic:
    result = session.exec(
        select(TriageResult)
        .where(TriageResult.ticket_id == ticket.id)
        .order_by(col(TriageResult.revision).desc())
    ).first()
    review = session.exec(
        select(Review).where(Review.ticket_id == ticket.id).order_by(col(Review.id).desc())
    ).first()
    return TicketPublic.model_validate(
        ticket,
        update={
            "triage": TriagePublic.model_validate(result) if result else None,
            "review": ReviewPublic.model_validate(review) if review else None,
        },
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


def review_queue(session: Session, limit: int, offset: int) -> TicketPage:
    """Triaged tickets awaiting a decision: most urgent first, then oldest first."""
    rank = case(PRIORITY_RANK, value=TriageResult.priority, else_=len(PRIORITY_RANK))
    base = (
        select(Ticket)
        .join(TriageResult, _current_result_join())
        .where(Ticket.status == TicketStatus.triaged)
    )
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(
        base.order_by(
            rank,
            col(TriageResult.needs_human_triage).desc(),
            col(Ticket.created_at),
            col(Ticket.id),  # a total order: pages never swap tickets created in the same instant
        )
        .offset(offset)
        .limit(limit)
    ).all()
    return TicketPage(
        items=[to_public(session, t) for t in rows], total=total, limit=limit, offset=offset
    )
