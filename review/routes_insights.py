"""``GET /insights`` (the numbers of ``ticketflow report``) and the page that shows them."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from access.deps import PageUser, require_scope
from access.pages import csrf_meta
from producer.api.deps import SessionDep
from review.insights import Insights, Period, build_insights
from shared.models import Scope

router = APIRouter(tags=["review"])


@router.get("/insights", response_model=Insights, dependencies=[Depends(require_scope(Scope.read))])
def insights(
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=3660)] = 28,
    by: Annotated[Period, Query()] = "week",
) -> Insights:
    """Intents and sentiment over time, draft acceptance and edits per category and language,
    label corrections, and tickets no help article answered, over the last ``days``."""
    return build_insights(session, days, by)


@router.get("/ui/insights", response_class=HTMLResponse, include_in_schema=False)
def insights_page(user: PageUser) -> HTMLResponse:
    page = resources.files("review").joinpath("static/insights.html").read_text("utf-8")
    return HTMLResponse(page.replace("<!--csrf-meta-->", csrf_meta(user)))
