"""FastAPI dependencies: settings, a DB session, the dispatch service, API-key checks."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request, status
from sqlmodel import Session

from dispatch.service import DispatchService
from shared.config import Settings
from shared.db import get_engine


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    with Session(get_engine(settings.resolved_database_url), expire_on_commit=False) as s:
        yield s


def get_dispatch(request: Request) -> DispatchService:
    dispatch: DispatchService = request.app.state.dispatch
    return dispatch


SessionDep = Annotated[Session, Depends(get_session)]
DispatchDep = Annotated[DispatchService, Depends(get_dispatch)]

# Bounds the databases can hold (PostgreSQL integer ids, bigint offsets): past them a 422.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**62
TicketId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def _check_key(settings: Settings, key: str | None) -> None:
    if not settings.api_key_set:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "no API keys are configured: set TICKETFLOW_API_KEYS"
        )
    # Compared as bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
    given = None if key is None else key.encode("utf-8", "surrogateescape")
    if given is None or not any(
        secrets.compare_digest(given, k.encode("utf-8")) for k in settings.api_key_set
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid X-API-Key header",
            headers={"WWW-Authenticate": "X-API-Key"},
        )


def require_write_key(
    settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None
) -> None:
    _check_key(settings, x_api_key)


def require_metrics_key(
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """Always required (volumes and queue names are not for everyone); also taken as
    ``Authorization: Bearer KEY``, which Prometheus sends from ``authorization.credentials_file``
    (the Prometheus releases in distributions cannot send a custom header)."""
    bearer = None
    if authorization and authorization[:7].lower() == "bearer ":
        bearer = authorization[7:].strip()
    _check_key(settings, x_api_key if x_api_key is not None else bearer)


def require_read_key(
    settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None
) -> None:
    if settings.api_read_auth:
        _check_key(settings, x_api_key)
