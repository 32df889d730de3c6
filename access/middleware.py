"""Secure defaults every response carries, errors included: the Host allow-list (DNS
rebinding), proxy headers only from trusted proxies, CORS only for listed origins, and the
security headers (CSP without inline script, no framing, nosniff, no referrer, no-store).

The headers middleware is the outermost one added, so a 400 for a bad Host, a 401, a 404 and
a 422 all get them. A 500 is built outside every user middleware: the API's handler for
unexpected exceptions adds ``SECURITY_HEADERS`` itself.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.config import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# FastAPI's /docs and /redoc pages (only with TICKETFLOW_API_DOCS=true) are an inline script
# loading Swagger UI or ReDoc from jsDelivr: they get their own, looser policy; no data is in them.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "worker-src blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
STATIC_PREFIX = "/static/"  # public assets (scripts, styles): cacheable, unlike everything else
# Probes and scrapers address a pod or container by IP or service name: no Host check there.
# Neither is a DNS-rebinding target (a liveness answer; /metrics needs a key no page knows).
HOST_CHECK_EXEMPT = frozenset({"/healthz", "/metrics"})


class HostAllowListMiddleware(TrustedHostMiddleware):
    """Starlette's TrustedHostMiddleware (400 for any other Host), minus the machine paths."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        super().__init__(app, allowed_hosts=allowed_hosts, www_redirect=False)
        self.inner = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in HOST_CHECK_EXEMPT:
            await self.inner(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every HTTP response (keeping any a route set itself), and
    ``Cache-Control: no-store`` outside ``/static/``: ticket data must not sit in caches."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        static = path.startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = dict(SECURITY_HEADERS)
                if path in DOCS_PATHS:
                    extra["Content-Security-Policy"] = DOCS_CSP
                if not static:
                    extra["Cache-Control"] = "no-store"
                if self.hsts and scope.get("scheme") == "https":
                    extra["Strict-Transport-Security"] = "max-age=31536000"
                for name, value in extra.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _host_patterns(hosts: list[str]) -> list[str]:
    """IPv6 literals as the Host header writes them ("[::1]"), whichever way they were set."""
    return [f"[{h}]" if ":" in h and not h.startswith("[") else h for h in hosts]


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the middlewares, innermost first (Starlette runs the last added first)."""
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_credentials=False,  # cookies stay same-site; other origins use keys
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    app.add_middleware(
        HostAllowListMiddleware,
        allowed_hosts=_host_patterns(settings.allowed_host_list) or ["localhost"],
    )
    if settings.trusted_proxy_list:
        # uvicorn's (supports networks too); imported only when used: uvicorn costs ~0.1 s.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.cookie_secure)
