"""FastAPI dependencies: settings, a DB session, the dispatch service.

Who may call what is declared with ``access.deps`` (sessions, scoped keys, CSRF)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
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
