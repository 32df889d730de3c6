"""Ticket intake and lookup."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from access import audit
from access.deps import ReadAccess, require_scope
from producer.api.deps import (
    MAX_ID,
    DispatchDep,
    Offset,
    SessionDep,
    SettingsDep,
    TicketId,
)
from producer.intake import submit_ticket
from review.queries import list_tickets, to_public
from shared import metrics
from shared.models import Scope, Ticket, TicketCreate, TicketPage, TicketPublic, TicketStatus

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.post(
    "",
    response_model=TicketPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_scope(Scope.intake))],
    responses={200: {"description": "Already known (same source and external_id)"}},
)
def create_ticket(
    data: TicketCreate,
    session: SessionDep,
    dispatch: DispatchDep,
    settings: SettingsDep,
    response: Response,
) -> TicketPublic:
    """Store the ticket and return; the relay of this process publishes it right after.
    Re-posting an external_id is a no-op."""
    if len(data.body) > settings.max_body_chars:
        metrics.record_ticket_received(data.source, "rejected")
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "type": "string_too_long",
                    "loc": ["body", "body"],
                    "msg": f"body has {len(data.body)} characters, over the limit of "
                    f"{settings.max_body_chars} (TICKETFLOW_MAX_BODY_CHARS)",
                }
            ],
        )
    result = submit_ticket(session, data, settings.queue)
    if result.created and result.ticket.id is not None:
        dispatch.nudge(result.ticket.id)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return to_public(session, result.ticket, new=result.created)


@router.get("", response_model=TicketPage, dependencies=[Depends(require_scope(Scope.read))])
def get_tickets(
    session: SessionDep,
    status_: Annotated[TicketStatus | None, Query(alias="status")] = None,
    category: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only tickets older than this id.")
    ] = None,
) -> TicketPage:
    """Newest first; for stable pages pass the last id of the previous page as ``before_id``."""
    return list_tickets(session, status_, category, limit, offset, before_id)


@router.get("/{ticket_id}", response_model=TicketPublic)
def get_ticket(ticket_id: TicketId, session: SessionDep, principal: ReadAccess) -> TicketPublic:
    """One ticket with its draft and review; a person's view goes to the audit trail."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"ticket {ticket_id} not found")
    if principal.kind == "user":
        audit.record(session, principal.kind, principal.name, "view", ticket_id, commit=True)
    return to_public(session, ticket)
