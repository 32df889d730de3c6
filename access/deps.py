"""FastAPI dependencies: who is asking (session cookie or X-API-Key), whether they may, CSRF.

Routes declare what they need, once::

    @router.get("/tickets", dependencies=[Depends(require_scope("read"))])
    def ...(principal: Annotated[Principal, Depends(require_scope("review"))]) -> ...
    def page(user: PageUser) -> HTMLResponse  # a person; no session: 303 to /login

A request with ``X-API-Key`` is judged by the key alone (a cookie beside it is ignored). A
write authenticated by the session cookie must echo the session's CSRF token in
``X-CSRF-Token`` (JS) or a ``csrf_token`` form field: a cross-site form can send the cookie
(SameSite=Lax lets top-level GETs through, old browsers more) but cannot read the token.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from access.keys import KEY_PREFIX, find_key
from access.principal import LEGACY_KEY_NAME, ROLE_SCOPES, Principal
from access.sessions import SessionProblem, load_session
from access.throttle import FailureThrottle
from shared.config import Settings
from shared.db import get_engine
from shared.models import Scope

SESSION_COOKIE = "ticketflow_session"
API_KEY_HEADER = "X-API-Key"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ANONYMOUS = Principal(kind="anonymous", name="anonymous", scopes=frozenset({Scope.read.value}))


@dataclass(frozen=True)
class Auth:
    """What the request's credentials prove: a principal, or why there is none."""

    principal: Principal | None
    problem: str | None = None  # a cookie that opens no session: expired, disabled, logged out


def client_ip(request: Request) -> str:
    """The caller's address (the proxy's X-Forwarded-For when TICKETFLOW_TRUSTED_PROXIES
    names the proxy: access.middleware rewrites it before this runs)."""
    return request.client.host if request.client else "unknown"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _throttle(request: Request) -> FailureThrottle:
    throttle: FailureThrottle = request.app.state.auth_throttle
    return throttle


@contextmanager
def auth_db(request: Request) -> Iterator[Session]:
    """A short database session of its own: authentication commits (last seen, last used)
    never mix with the route's transaction."""
    with Session(get_engine(_settings(request).resolved_database_url), expire_on_commit=False) as s:
        yield s


def too_many(retry_after: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many failed attempts from this address: try again in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def key_from_request(request: Request, allow_bearer: bool = False) -> str | None:
    key = request.headers.get(API_KEY_HEADER)
    if key is None and allow_bearer:
        authorization = request.headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            key = authorization[7:].strip()
    return key


def principal_for_key(request: Request, key: str) -> Principal:
    """The key's principal; an unknown or revoked key is a 401 and counts as a failure."""
    throttle, ip = _throttle(request), f"ip:{client_ip(request)}"
    wait = throttle.retry_after(ip)
    if wait is not None:
        raise too_many(wait)
    given = key.encode("utf-8", "surrogateescape")
    # Compared as bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
    if any(secrets.compare_digest(given, k.encode()) for k in _settings(request).api_key_set):
        return Principal(kind="key", name=LEGACY_KEY_NAME, scopes=frozenset({Scope.intake.value}))
    if key.startswith(KEY_PREFIX):
        with auth_db(request) as db:
            row = find_key(db, key)
        if row is not None:
            return Principal(kind="key", name=row.name, scopes=frozenset(row.scopes), key_id=row.id)
    throttle.failed(ip)
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing or invalid X-API-Key header (unknown or revoked key)",
        headers={"WWW-Authenticate": API_KEY_HEADER},
    )


def authenticate(request: Request) -> Auth:
    """Who the request is from, by X-API-Key or else by the session cookie (not yet whether
    they may): cached per request, so routes with several dependencies pay once."""
    key = key_from_request(request)
    if key is not None:
        return Auth(principal_for_key(request, key))
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return Auth(None)
    settings = _settings(request)
    with auth_db(request) as db:
        try:
            live = load_session(db, raw, settings)
        except SessionProblem as problem:
            return Auth(None, str(problem))
    return Auth(
        Principal(
            kind="user",
            name=live.user.username,
            scopes=ROLE_SCOPES[live.user.role],
            role=live.user.role,
            user_id=live.user.id,
            csrf_token=live.row.csrf_token,
            expires_at=live.expires_at(settings),
        )
    )


AuthDep = Annotated[Auth, Depends(authenticate)]


async def check_csrf(request: Request, principal: Principal) -> None:
    """403 unless a cookie-authenticated write echoes the session's CSRF token."""
    if request.method in SAFE_METHODS or principal.kind != "user":
        return
    given = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if given is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    expected = principal.csrf_token or ""
    if not given or not expected or not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "missing or wrong CSRF token: reload the page and try again",
        )


def _unauthenticated(auth: Auth, scope: str) -> HTTPException:
    detail = auth.problem or f"log in, or send an X-API-Key with the {scope!r} scope"
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": API_KEY_HEADER}
    )


def require_scope(scope: str | Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, when they hold ``scope`` (401 nobody, 403 not allowed).

    ``read`` passes for anybody when the operator set TICKETFLOW_OPEN_READS=true."""
    wanted = Scope(scope).value

    async def dependency(request: Request, auth: AuthDep) -> Principal:
        principal = auth.principal
        if principal is None:
            if wanted == Scope.read.value and _settings(request).open_reads:
                return _ANONYMOUS
            raise _unauthenticated(auth, wanted)
        if not principal.can(wanted):
            who = "this API key" if principal.kind == "key" else f"user {principal.name!r}"
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"{who} lacks the {wanted!r} scope needed here"
            )
        await check_csrf(request, principal)
        return principal

    dependency.__name__ = f"require_{wanted}"
    return dependency


async def current_user(request: Request, auth: AuthDep) -> Principal:
    """A logged-in person (session cookie); keys and strangers get 401."""
    principal = auth.principal
    if principal is None or principal.kind != "user":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, auth.problem or "log in first (this needs a session)"
        )
    await check_csrf(request, principal)
    return principal


async def page_user(request: Request, auth: AuthDep) -> Principal:
    """For HTML pages: a logged-in person, else a 303 to the login page that comes back."""
    principal = auth.principal
    if principal is None or principal.kind != "user":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(
            status.HTTP_303_SEE_OTHER,
            auth.problem or "log in first",
            headers={"Location": f"/login?next={quote(target, safe='/')}"},
        )
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
PageUser = Annotated[Principal, Depends(page_user)]
ReadAccess = Annotated[Principal, Depends(require_scope(Scope.read))]
ReviewAccess = Annotated[Principal, Depends(require_scope(Scope.review))]
IntakeAccess = Annotated[Principal, Depends(require_scope(Scope.intake))]
AdminAccess = Annotated[Principal, Depends(require_scope(Scope.admin))]


async def require_metrics(request: Request) -> Principal:
    """/metrics: a TICKETFLOW_API_KEYS key (as before) or a scoped key with ``read``, as
    X-API-Key or ``Authorization: Bearer`` (what Prometheus sends); or an admin's session."""
    key = key_from_request(request, allow_bearer=True)
    if key is not None:
        principal = await run_in_threadpool(principal_for_key, request, key)
        if principal.name == LEGACY_KEY_NAME or principal.can(Scope.read.value):
            return principal
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this API key lacks the 'read' scope")
    auth = await run_in_threadpool(authenticate, request)
    if auth.principal is not None and auth.principal.can(Scope.admin.value):
        return auth.principal
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing or invalid X-API-Key header",
        headers={"WWW-Authenticate": API_KEY_HEADER},
    )
