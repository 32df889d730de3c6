"""``POST /integrations/{name}/events``: the webhook every configured helpdesk calls.

Authenticated by the helpdesk's own signature or shared secret (``Connector.verify``), not by
an API key: a helpdesk cannot send one. Thin: the connector verifies and parses, and
``connectors.inbound`` stores. Answers:

- 404: no connector of that name; 401: bad or missing signature (nothing read, nothing stored);
- 422: signed but not an event the connector can read (a plain message says why);
- 202: accepted (``status`` says created, threaded, reviewed, recorded, duplicate or ignored);
- 413: a body over 5 MB; 502/503: the helpdesk's API refused or failed a fetch the event
  needs (a summary payload), so the helpdesk retries later.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from connectors.base import Connector, Ignored, InboundEvent, MalformedEvent, SignatureError
from connectors.inbound import Outcome, handle_event
from connectors.registry import Registry
from shared import metrics
from shared.config import Settings
from shared.db import get_engine
from shared.errors import InputError, NotFoundError, PermanentError, TransientError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/integrations", tags=["integrations"])
MAX_EVENT_BYTES = 5 * 1024 * 1024


def _registry(request: Request) -> Registry:
    """The API process's connectors, built on first use (their HTTP clients are kept)."""
    state = request.app.state
    if getattr(state, "connectors", None) is None:
        state.connectors = Registry(state.settings)
    registry: Registry = state.connectors
    return registry


@router.post(
    "/{name}/events",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        401: {"description": "Bad or missing signature / shared secret; nothing stored"},
        404: {"description": "No connector of that name is configured"},
        422: {"description": "Signed, but not an event this connector can read"},
    },
)
async def receive_event(name: str, request: Request) -> JSONResponse:
    """A helpdesk webhook: a new ticket, a customer's message, or an agent's reply."""
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        return _answer(status.HTTP_413_CONTENT_TOO_LARGE, f"event over {MAX_EVENT_BYTES} bytes")
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = dict(request.query_params)
    code, content, ticket_id = await run_in_threadpool(
        _receive, _registry(request), request.app.state.settings, name, headers, body, query
    )
    if ticket_id is not None:
        request.app.state.dispatch.nudge(ticket_id)  # this process's relay sends it now
    return JSONResponse(status_code=code, content=content)


def _receive(
    registry: Registry,
    settings: Settings,
    name: str,
    headers: dict[str, str],
    body: bytes,
    query: dict[str, str],
) -> tuple[int, dict[str, Any], int | None]:
    """(status, JSON body, ticket to publish now) for one request; no HTTP types here."""
    try:
        connector = registry.get(name)
    except NotFoundError as err:
        return status.HTTP_404_NOT_FOUND, {"detail": str(err)}, None
    kind = connector.kind
    try:
        connector.verify(headers, body, query)
    except SignatureError as err:
        metrics.record_connector_event(kind, "unauthorized")
        return status.HTTP_401_UNAUTHORIZED, {"detail": str(err)}, None
    try:
        event = _parse(connector, headers, body)
        if isinstance(event, Ignored):
            metrics.record_connector_event(kind, "ignored")
            return status.HTTP_202_ACCEPTED, {"status": "ignored", "reason": event.reason}, None
        with Session(get_engine(settings.resolved_database_url), expire_on_commit=False) as s:
            result = handle_event(s, settings, name, event)
    except (MalformedEvent, InputError) as err:
        metrics.record_connector_event(kind, "malformed")
        return status.HTTP_422_UNPROCESSABLE_CONTENT, {"detail": str(err)}, None
    except TransientError as err:
        log.warning("%s: event not stored, the helpdesk will retry: %s", name, err)
        return status.HTTP_503_SERVICE_UNAVAILABLE, {"detail": str(err)}, None
    except PermanentError as err:
        log.warning("%s: event not stored: %s", name, err)
        return status.HTTP_502_BAD_GATEWAY, {"detail": str(err)}, None
    metrics.record_connector_event(kind, result.outcome.value)
    content: dict[str, Any] = {"status": result.outcome.value, "ticket_id": result.ticket_id}
    if result.detail:
        content["detail"] = result.detail
    send = result.outcome in (Outcome.created, Outcome.threaded)
    return status.HTTP_202_ACCEPTED, content, result.ticket_id if send else None


def _parse(connector: Connector, headers: dict[str, str], body: bytes) -> InboundEvent | Ignored:
    """The connector's reading of the event; an answer of the helpdesk's API it fetched that
    has an unexpected shape is the helpdesk's fault (502), not a bug of ours (500)."""
    try:
        return connector.parse(headers, body)
    except (KeyError, TypeError, AttributeError, IndexError) as err:
        log.warning(
            "%s: unexpected shape in the helpdesk's data (%s)", connector.name, type(err).__name__
        )
        raise PermanentError(
            f"{connector.name}: the helpdesk's data has an unexpected shape ({type(err).__name__})"
        ) from None


def _answer(code: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=code, content={"detail": detail})
