"""The reviewer's workspace page and its files, on top of the same API a script would use."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import HTMLResponse, Response

from producer.api.deps import SettingsDep, require_read_key
from shared.taxonomy import current_labels, load_taxonomy

router = APIRouter(tags=["review"])


STATIC = resources.files("review").joinpath("static")
# The workspace's files (no build step): a page shell, its stylesheet and its ES modules.
ASSETS = {
    "workspace.css": "text/css; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "queue.js": "text/javascript; charset=utf-8",
    "ticket.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}


@router.get("/ui", response_class=HTMLResponse, include_in_schema=False)
def review_page() -> HTMLResponse:
    """The reviewer's workspace (docs/review-workspace.md); it talks to the JSON API."""
    return HTMLResponse(STATIC.joinpath("workspace.html").read_text("utf-8"))


@router.get("/ui/static/{name}", include_in_schema=False)
def review_asset(name: str) -> Response:
    """Only the workspace's own files: a name not listed is a 404, never a path."""
    if name not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such file: {name}")
    body = STATIC.joinpath(name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})


@router.get("/taxonomy", dependencies=[Depends(require_read_key)])
def taxonomy(settings: SettingsDep) -> dict[str, list[str]]:
    """The labels a reviewer may choose when correcting a ticket."""
    labels = current_labels(load_taxonomy(settings.taxonomy_file), settings.heads_dir)
    return {
        "categories": labels["category"],
        "priorities": labels["priority"],
        "sentiments": labels["sentiment"],
    }
