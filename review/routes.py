"""The review queue and decisions. Nothing is sent to a customer without one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from access import audit
from access.deps import ReviewAccess, require_scope
from producer.api.deps import (
    MAX_ID,
    Offset,
    SessionDep,
    SettingsDep,
    TicketId,
)
from review.queries import review_queue, to_public
from review.service import submit_review, undo_approval
from review.workspace_deps import FilterDep
from shared.models import ReviewCreate, Scope, Ticket, TicketPage, TicketPublic
from shared.taxonomy import current_labels, load_taxonomy

router = APIRouter(tags=["review"])


@router.get("/review", response_model=TicketPage, dependencies=[Depends(require_scope(Scope.read))])
def get_review_queue(
    session: SessionDep,
    filt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
    after_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="The last ticket id of the previous page."),
    ] = None,
) -> TicketPage:
    """Triaged tickets awaiting a decision, most urgent first; pass the last id of a page as
    ``after_id`` for the next one, which stays right while others review tickets. The
    filters narrow it (``/review/facets`` counts their values)."""
    return review_queue(session, limit, offset, after_id, filt)


@router.post("/tickets/{ticket_id}/review", response_model=TicketPublic)
def review_ticket(
    ticket_id: TicketId,
    data: ReviewCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: ReviewAccess,
) -> TicketPublic:
    """Approve, edit or reject the draft; corrected labels are kept for training. The
    reviewer recorded is the logged-in user (``key:NAME`` for a key), never a body field.
    The audit event joins the review's transaction: both are stored, or neither."""
    detail = {"decision": data.decision.value, "revision": data.revision}
    audit.record(session, principal.kind, principal.name, "decide", ticket_id, detail)
    review = submit_review(
        session,
        ticket_id,
        data,
        current_labels(load_taxonomy(settings.taxonomy_file), settings.heads_dir),
        settings,
        settings.blocking_warning_set,
        reviewer=principal.reviewer,
    )
    return to_public(session, session.get_one(Ticket, review.ticket_id))


@router.post("/tickets/{ticket_id}/review/undo", response_model=TicketPublic)
def undo_review(ticket_id: TicketId, session: SessionDep, principal: ReviewAccess) -> TicketPublic:
    """Take back an approval while its reply is on hold (``TICKETFLOW_DELIVERY_HOLD_S``);
    409 once sending has started. The ticket awaits a decision again."""
    audit.record(session, principal.kind, principal.name, "undo", ticket_id)  # its transaction
    return to_public(session, undo_approval(session, ticket_id))
