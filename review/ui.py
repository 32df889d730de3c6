"""The reviewer's workspace page, on top of the same API a script would use. Its stylesheet and
ES modules are plain files served under /static (``producer.api.app``): no inline script."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from access.deps import PageUser, require_scope
from access.pages import csrf_meta
from producer.api.deps import SettingsDep
from shared.models import Scope
from shared.taxonomy import current_labels, load_taxonomy

router = APIRouter(tags=["review"])


@router.get("/ui", response_class=HTMLResponse, include_in_schema=False)
def review_page(user: PageUser) -> HTMLResponse:
    """The workspace for a logged-in person (else a 303 to /login; docs/review-workspace.md);
    its scripts send the CSRF token from the meta tag with every write."""
    page = resources.files("review").joinpath("static/workspace.html").read_text("utf-8")
    return HTMLResponse(page.replace("<!--csrf-meta-->", csrf_meta(user)))


@router.get("/taxonomy", dependencies=[Depends(require_scope(Scope.read))])
def taxonomy(settings: SettingsDep) -> dict[str, list[str]]:
    """The labels a reviewer may choose when correcting a ticket."""
    labels = current_labels(load_taxonomy(settings.taxonomy_file), settings.heads_dir)
    return {
        "categories": labels["category"],
        "priorities": labels["priority"],
        "sentiments": labels["sentiment"],
    }
