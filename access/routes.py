"""Log in, log out, the session's CSRF token for scripts, and the audit trail for admins."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import SQLModel

from access import audit
from access.deps import SESSION_COOKIE, AdminAccess, CurrentUser, auth_db, client_ip
from access.pages import login_page, safe_next
from access.sessions import end_session, purge_expired, start_session
from access.users import authenticate, normalize_username
from shared.config import Settings
from shared.models import AuditEventPublic, utcnow

router = APIRouter(tags=["access"])
LOGIN_CSRF_COOKIE = "ticketflow_login_csrf"  # double-submit token of the login form


class SessionInfo(SQLModel):
    username: str
    role: str
    csrf_token: str
    expires_at: datetime


class AuditPage(SQLModel):
    items: list[AuditEventPublic]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _secure(request: Request) -> bool:
    """Secure cookies over https (as the client sees it: a trusted proxy's X-Forwarded-Proto
    counts), or always with TICKETFLOW_COOKIE_SECURE=true."""
    return _settings(request).cookie_secure or request.url.scheme == "https"


def _form_page(
    request: Request, code: int, message: str = "", next_url: str = "/ui", username: str = ""
) -> HTMLResponse:
    """The login form with a fresh double-submit token (cookie and hidden field)."""
    token = secrets.token_urlsafe(32)
    response = HTMLResponse(login_page(token, next_url, message, username), status_code=code)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _form_page(request, status.HTTP_200_OK, next_url=safe_next(next))


# Bandit B107 below: the empty defaults mean "field left blank", answered like a wrong password.
@router.post("/login", include_in_schema=False)
def login(  # nosec B107
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/ui",
) -> Response:
    """Check the password; on success a session cookie and a 303 to ``next`` (this site)."""
    settings, target = _settings(request), safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
        return _form_page(
            request, status.HTTP_403_FORBIDDEN, "The form expired: please try again.", target
        )
    name = normalize_username(username)
    throttle = request.app.state.auth_throttle
    keys = (f"ip:{client_ip(request)}", f"user:{name}")
    wait = throttle.retry_after(*keys)
    if wait is not None:
        page = _form_page(
            request,
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Too many failed logins: try again in {wait} seconds.",
            target,
            name,
        )
        page.headers["Retry-After"] = str(wait)
        return page
    with auth_db(request) as db:
        user = authenticate(db, name, password)
        if user is None:
            throttle.failed(*keys)
            audit.record(
                db,
                "anonymous",
                name[:100] or "(blank)",
                "login_failed",
                detail={"ip": client_ip(request)},
                commit=True,
            )
            return _form_page(
                request, status.HTTP_401_UNAUTHORIZED, "Wrong username or password.", target, name
            )
        purge_expired(db, settings)
        # A new id at every login (no session fixation); a session this browser had ends.
        end_session(db, request.cookies.get(SESSION_COOKIE, ""))
        raw, _ = start_session(db, user, settings)
        audit.record(db, "user", user.username, "login", detail={"ip": client_ip(request)})
        db.commit()
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=settings.session_max_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, user: CurrentUser) -> Response:
    """End the session (CSRF token required, like every write) and go back to the login."""
    with auth_db(request) as db:
        end_session(db, request.cookies.get(SESSION_COOKIE, ""))
        audit.record(db, "user", user.name, "logout", commit=True)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/session", response_model=SessionInfo)
def session_info(user: CurrentUser) -> SessionInfo:
    """Who is logged in, the token scripts send as X-CSRF-Token, and when the session ends
    if left idle."""
    return SessionInfo(
        username=user.name,
        role=user.role or "",
        csrf_token=user.csrf_token or "",
        expires_at=user.expires_at or utcnow(),
    )


@router.get("/audit", response_model=AuditPage)
def audit_trail(
    request: Request,
    _: AdminAccess,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
    actor: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    ticket_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Any:
    """Who logged in, viewed, claimed or decided what, newest first (admins only)."""
    with auth_db(request) as db:
        events = audit.list_events(db, limit, before_id, action, actor, ticket_id)
        return AuditPage(items=[AuditEventPublic.model_validate(e) for e in events])
