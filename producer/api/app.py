"""The REST API: intake, lookup, review queue and decisions, health, login.

Secure by default (access/, docs/security.md): reads need a session or a key, OpenAPI docs
are off unless TICKETFLOW_API_DOCS=true, and every response carries the security headers."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from access import routes as access_routes
from access.middleware import SECURITY_HEADERS, install_security
from access.throttle import FailureThrottle
from connectors import routes as connector_routes
from dispatch.publisher import CeleryPublisher, Publisher
from dispatch.service import DispatchService
from producer.api import routes_health, routes_metrics, routes_tickets
from review import routes as review_routes
from review import routes_insights, routes_workspace
from review import ui as review_ui
from shared.celery_app import create_celery_app
from shared.config import Settings, get_settings
from shared.db import get_engine
from shared.errors import ConflictError, InputError, NotFoundError, TransientError
from shared.metrics_export import api_registry
from shared.metrics_live import LiveCollector
from shared.version import ticketflow_version

log = logging.getLogger(__name__)


def _error(code: int) -> Callable[[Request, Exception], Any]:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=code, content={"detail": str(exc)})

    return handler


class AsciiJSONResponse(JSONResponse):
    """Escapes non-ASCII: a 422 may echo input holding a lone surrogate, which UTF-8 cannot."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
    """A bug: Starlette logs the traceback after this; the client gets no detail, and the
    security headers, which no middleware adds at this layer."""
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "internal error: the operator's log has the details"},
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return AsciiJSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": jsonable_encoder(exc.errors())},
    )


async def _database_down(_: Request, exc: Exception) -> JSONResponse:
    """The database is down, unreachable or has no free connection: a 503 to retry, not a 500."""
    log.warning("database unavailable: %s", exc)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": "database unavailable, try again shortly"},
        headers={"Retry-After": "5"},
    )


def create_app(
    settings: Settings | None = None,
    publisher: Publisher | None = None,
    redis_client: Callable[[], Any] | None = None,
    dispatch: DispatchService | None = None,
    auth_throttle: FailureThrottle | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    publisher = publisher or CeleryPublisher(create_celery_app(settings))
    dispatch = dispatch or DispatchService(settings, publisher)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dispatch.start()
        try:
            yield
        finally:
            dispatch.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="ticketflow",
        version=ticketflow_version(),
        description="Support tickets in; classified tickets with drafted replies out, "
        "for a human to approve, edit or reject.",
        docs_url="/docs" if settings.api_docs else None,
        redoc_url="/redoc" if settings.api_docs else None,
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    if settings.open_reads:
        log.warning(
            "TICKETFLOW_OPEN_READS=true: tickets, drafts and the review queue are readable "
            "by ANYONE who can reach this API, without a session or key"
        )
    install_security(app, settings)
    app.state.auth_throttle = auth_throttle or FailureThrottle.from_settings(settings)
    app.state.settings = settings
    app.state.dispatch = dispatch
    app.state.redis_client = redis_client or (
        lambda: redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    )
    app.state.metrics_registry = api_registry(
        settings,
        LiveCollector(
            app.state.redis_client,
            lambda: get_engine(settings.resolved_database_url),
            [settings.queue, settings.backfill_queue],
        ),
    )
    app.add_exception_handler(Exception, _internal_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(InputError, _error(status.HTTP_422_UNPROCESSABLE_CONTENT))
    app.add_exception_handler(NotFoundError, _error(status.HTTP_404_NOT_FOUND))
    app.add_exception_handler(ConflictError, _error(status.HTTP_409_CONFLICT))
    app.add_exception_handler(TransientError, _error(status.HTTP_503_SERVICE_UNAVAILABLE))
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(PoolTimeout, _database_down)
    app.add_exception_handler(InterfaceError, _database_down)  # a connection closed under us
    app.include_router(routes_tickets.router)
    app.include_router(review_routes.router)
    app.include_router(routes_workspace.router)
    app.include_router(routes_health.router)
    app.include_router(routes_metrics.router)
    app.include_router(review_ui.router)
    app.include_router(routes_insights.router)
    app.include_router(connector_routes.router)  # helpdesk webhooks (own signatures)
    app.include_router(access_routes.router)
    # Scripts and styles of the pages (the CSP allows no inline ones): public, no data.
    app.mount(
        "/static",
        StaticFiles(packages=[("review", "static"), ("access", "static")]),
        name="static",
    )
    return app
