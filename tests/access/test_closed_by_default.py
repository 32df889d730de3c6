"""Issue 17's "done when": a stranger gets 401 on every read, whatever route is added later.

The route list comes from the app itself, so a new GET route that forgets its dependency fails
here. Only the login form and the liveness probe are public; HTML pages send a stranger to the
login form (303) and carry no data.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.routing import Mount

from access.deps import page_user
from tests.access.conftest import MakeClient
from tests.factories import make_result, make_ticket
from tests.producer.conftest import KEY

# Public on purpose: the form to log in, and the liveness probe of load balancers and compose
# (it says "ok"/"degraded" per dependency, nothing about tickets).
PUBLIC = {"/login", "/healthz"}
SECRET_TEXT = "Card 4242 charged twice, call me at +1 555 0100"


def _flat_routes(routes: list[Any]) -> list[Any]:
    """The app's routes with included routers opened (FastAPI keeps them lazily)."""
    out = []
    for route in routes:
        nested = getattr(route, "effective_candidates", None)
        out.extend(_flat_routes(nested()) if nested else [route])
    return out


def _get_paths(client: TestClient) -> list[tuple[str, bool]]:
    """(path with ids filled in, whether it is an HTML page) for every GET route."""
    out = []
    for route in _flat_routes(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}: check it here"
            continue
        if "GET" not in (route.methods or set()):
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        original = getattr(route, "original_route", route)
        page = isinstance(original, APIRoute) and _uses(original, page_user)
        out.append((path, page))
    return out


def _uses(route: APIRoute, dependency: object) -> bool:
    todo = list(route.dependant.dependencies)
    while todo:
        d = todo.pop()
        if d.call is dependency:
            return True
        todo.extend(d.dependencies)
    return False


def test_a_stranger_gets_401_on_every_get_route(client: TestClient, session: Session) -> None:
    t = make_ticket(session, body=SECRET_TEXT, status="triaged")
    make_result(session, t.id, draft_reply=SECRET_TEXT)
    paths = _get_paths(client)
    assert len(paths) >= 10 and ("/tickets", False) in paths and ("/ui", True) in paths
    for path, page in paths:
        r = client.get(path, follow_redirects=False)
        assert "4242" not in r.text, path
        if path in PUBLIC:
            assert r.status_code in (200, 503), path
        elif page:
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next="), path
        else:
            assert r.status_code == 401, (path, r.status_code, r.text)
            assert "log in" in r.json()["detail"] or "X-API-Key" in r.json()["detail"]


def test_a_stale_cookie_is_a_401_that_says_why(client: TestClient) -> None:
    client.cookies.set("ticketflow_session", "made-up")
    r = client.get("/tickets")
    assert r.status_code == 401 and "log in again" in r.json()["detail"]


def test_opened_reads_serve_reads_but_nothing_else(
    make_client: MakeClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    t = make_ticket(session, status="triaged")
    make_result(session, t.id)
    opened = make_client(open_reads=True)
    assert "TICKETFLOW_OPEN_READS=true" in caplog.text and "ANYONE" in caplog.text
    assert opened.get("/tickets").json()["total"] == 1
    assert opened.get(f"/tickets/{t.id}").status_code == 200
    assert opened.get("/review").status_code == 200
    assert opened.get("/taxonomy").status_code == 200
    # Writes and admin reads still need credentials.
    review = {"decision": "approve", "revision": 1}
    assert opened.post(f"/tickets/{t.id}/review", json=review).status_code == 401
    assert opened.post("/tickets", json={"body": "hello there"}).status_code == 401
    assert opened.get("/audit").status_code == 401
    assert opened.get("/session").status_code == 401


def test_docs_and_openapi_are_off_by_default(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404
        assert client.get(path, headers=KEY).status_code == 404


def test_a_host_not_allowed_is_a_400(client: TestClient, make_client: MakeClient) -> None:
    r = client.get("/tickets", headers={**KEY, "Host": "attacker.example"})
    assert r.status_code == 400
    assert r.headers["X-Frame-Options"] == "DENY"  # headers even on this early refusal
    assert client.get("/ui", headers={"Host": "attacker.example"}).status_code == 400
    # Probes and scrapers reach a container by IP or service name.
    assert client.get("/healthz", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    assert client.get("/metrics", headers={**KEY, "Host": "api:8000"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "[::1]:8000"}).status_code == 200
    tuned = make_client(allowed_hosts="tickets.example.com,::1")
    assert tuned.get("/login", headers={"Host": "tickets.example.com"}).status_code == 200
    assert tuned.get("/login", headers={"Host": "[::1]"}).status_code == 200
    assert tuned.get("/login", headers={"Host": "localhost"}).status_code == 400


def test_security_headers_on_every_kind_of_response(client: TestClient) -> None:
    responses = {
        200: client.get("/tickets", headers=KEY),
        401: client.get("/tickets"),
        404: client.get("/tickets/424242", headers=KEY),
        422: client.get("/tickets?limit=0", headers=KEY),
        405: client.delete("/tickets", headers=KEY),
    }
    for code, r in responses.items():
        assert r.status_code == code, (code, r.text)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["Cache-Control"] == "no-store"
    script = client.get("/static/app.js")
    assert script.status_code == 200
    assert "no-store" not in script.headers.get("Cache-Control", "")


def test_security_headers_on_an_internal_error(client: TestClient) -> None:
    """A bug's 500 is built outside every middleware: it still carries the headers, and says
    nothing of the exception."""

    def broken() -> None:
        raise RuntimeError("secret detail of a bug")

    client.app.add_api_route("/broken-for-test", broken)  # type: ignore[attr-defined]
    quiet = TestClient(client.app, raise_server_exceptions=False)
    r = quiet.get("/broken-for-test")
    assert r.status_code == 500
    assert "secret detail" not in r.text
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self';" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"


def test_cors_is_closed_unless_origins_are_listed(
    client: TestClient, make_client: MakeClient
) -> None:
    ask = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in client.options("/tickets", headers=ask).headers
    tuned = make_client(cors_origins="https://crm.example")
    ok = {**ask, "Origin": "https://crm.example"}
    r = tuned.options("/tickets", headers=ok)
    assert r.headers["access-control-allow-origin"] == "https://crm.example"
    assert "access-control-allow-origin" not in tuned.options("/tickets", headers=ask).headers
