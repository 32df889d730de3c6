"""The reviewer's workspace API: claims, "next", the ticket view, counts, stats, bulk reject.
Thin routes over ``review.claims``, ``review.ticket_view``, ``review.facets``,
``review.stats`` and ``review.bulk``; the reviewer comes from ``review.workspace_deps``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from access import audit
from access.deps import require_scope
from producer.api.deps import MAX_ID, SessionDep, SettingsDep, TicketId
from review.bulk import BulkReject, BulkResult, bulk_reject
from review.claims import claim, claim_next, release
from review.facets import facet_counts
from review.stats import QueueStats, queue_stats
from review.ticket_view import TicketDetail, draft_prompt, ticket_detail
from review.workspace_deps import FilterDep, ReviewerDep
from shared.models import Scope
from shared.taxonomy import current_labels, load_taxonomy

router = APIRouter(tags=["review"])


@router.get("/review/facets", dependencies=[Depends(require_scope(Scope.read))])
def get_facets(session: SessionDep, filt: FilterDep) -> dict[str, dict[str, int]]:
    """How many awaiting tickets each filter value would show, the other filters applied."""
    return facet_counts(session, filt)


@router.get("/review/stats", response_model=QueueStats)
def get_stats(session: SessionDep, who: ReviewerDep) -> QueueStats:
    """Awaiting, reviewed today, yours today, median time from draft to decision today."""
    return queue_stats(session, who.reviewer)


@router.post("/review/next", response_model=TicketDetail | None)
def next_ticket(
    session: SessionDep,
    settings: SettingsDep,
    who: ReviewerDep,
    filt: FilterDep,
    after_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> TicketDetail | None:
    """Claim and open the next free ticket in the filter (after ``after_id``, wrapping to the
    top); your previous claim is given back. ``null`` when nothing is free."""
    ticket = claim_next(session, who.reviewer, settings.claim_s, filt, after_id)
    if ticket is None:
        return None
    audit.record(session, who.kind, who.name, "claim", ticket.id, commit=True)
    return ticket_detail(session, ticket.id or 0)


@router.post("/tickets/{ticket_id}/claim", response_model=TicketDetail)
def claim_ticket(
    ticket_id: TicketId, session: SessionDep, settings: SettingsDep, who: ReviewerDep
) -> TicketDetail:
    """Open a ticket for yourself (or renew your claim); 409 if someone else holds it."""
    audit.record(session, who.kind, who.name, "claim", ticket_id)  # stored with the claim only
    claim(session, ticket_id, who.reviewer, settings.claim_s)
    return ticket_detail(session, ticket_id)


@router.delete("/tickets/{ticket_id}/claim", status_code=status.HTTP_204_NO_CONTENT)
def release_ticket(ticket_id: TicketId, session: SessionDep, who: ReviewerDep) -> Response:
    """Give the ticket back to the queue; another reviewer's claim is left alone."""
    release(session, ticket_id, who.reviewer)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/review/tickets/{ticket_id}",
    response_model=TicketDetail,
    dependencies=[Depends(require_scope(Scope.read))],
)
def get_ticket_detail(ticket_id: TicketId, session: SessionDep) -> TicketDetail:
    """The ticket view without claiming: thread, earlier tickets, labels, passages."""
    return ticket_detail(session, ticket_id)


@router.get("/tickets/{ticket_id}/prompt", dependencies=[Depends(require_scope(Scope.read))])
def get_prompt(ticket_id: TicketId, session: SessionDep) -> list[dict[str, str]]:
    """The chat the draft model was given (personal data as placeholders)."""
    return draft_prompt(session, ticket_id)


@router.post("/review/bulk-reject", response_model=BulkResult)
def reject_many(
    data: BulkReject, session: SessionDep, settings: SettingsDep, who: ReviewerDep
) -> BulkResult:
    """Reject a selection (spam) with one reason; each ticket succeeds or fails on its own."""
    labels = current_labels(load_taxonomy(settings.taxonomy_file), settings.heads_dir)
    detail = {"decision": "reject", "bulk": True}
    return bulk_reject(
        session,
        data,
        who.reviewer,
        labels,
        settings,
        lambda tid: audit.record(session, who.kind, who.name, "decide", tid, detail),
    )
