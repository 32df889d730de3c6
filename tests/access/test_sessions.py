"""People: login, logout, session expiry, disabled accounts, CSRF, throttling, the cookie."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from access.users import reset_password, set_disabled
from shared.models import AuditEvent, Review, UserSession, utcnow
from tests.access.conftest import MakeClient
from tests.factories import PASSWORD, make_result, make_ticket, make_user
from tests.helpers import log_in


def _login_token(client: TestClient) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert m is not None
    return m.group(1)


def _events(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _triaged(session: Session) -> int:
    t = make_ticket(session, status="triaged")
    make_result(session, t.id, draft_reply="We are on it.")
    assert t.id is not None
    return t.id


def test_login_sets_a_hardened_cookie_and_opens_the_page(
    client: TestClient, session: Session
) -> None:
    make_user(session, "rita")
    token = _login_token(client)
    form = {"username": "Rita", "password": PASSWORD, "csrf_token": token, "next": "/ui"}
    r = client.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui"
    cookie = next(c for c in r.headers.get_list("set-cookie") if "ticketflow_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http without TICKETFLOW_COOKIE_SECURE
    info = client.get("/session").json()
    assert info["username"] == "rita" and info["role"] == "reviewer" and info["csrf_token"]
    page = client.get("/ui")
    assert page.status_code == 200
    assert f'<meta name="csrf-token" content="{info["csrf_token"]}">' in page.text
    assert "<script>" not in page.text and "<style>" not in page.text  # CSP: files only
    assert [e.actor_name for e in _events(session, "login")] == ["rita"]
    # Only a hash of the cookie's id is stored.
    raw = client.cookies["ticketflow_session"]
    assert raw not in {s.id_hash for s in session.exec(select(UserSession)).all()}


def test_the_cookie_is_secure_over_https_and_when_forced(
    make_client: MakeClient, session: Session
) -> None:
    make_user(session, "rita")

    def cookie_of(c: TestClient, headers: dict[str, str] | None = None) -> str:
        # A test client over http keeps Secure cookies to itself: hand the login one back.
        page = c.get("/login", headers=headers or {})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        form = {"username": "rita", "password": PASSWORD, "csrf_token": token.group(1)}
        sent = {**(headers or {}), "Cookie": f"ticketflow_login_csrf={token.group(1)}"}
        r = c.post("/login", data=form, headers=sent, follow_redirects=False)
        assert r.status_code == 303, r.text
        return next(h for h in r.headers.get_list("set-cookie") if "ticketflow_session=" in h)

    assert "Secure" in cookie_of(make_client({"base_url": "https://testserver"}))
    assert "Secure" in cookie_of(make_client(cookie_secure=True))
    # X-Forwarded-Proto counts only from a trusted proxy.
    https = {"X-Forwarded-Proto": "https"}
    assert "Secure" not in cookie_of(make_client(), https)
    proxied = make_client({"client": ("10.0.0.5", 4000)}, trusted_proxies="10.0.0.5")
    assert "Secure" in cookie_of(proxied, https)


def test_a_wrong_password_is_a_401_and_audited(client: TestClient, session: Session) -> None:
    make_user(session, "rita")
    form = {"username": "rita", "password": "not the password", "csrf_token": _login_token(client)}
    r = client.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 401 and "Wrong username or password" in r.text
    assert "ticketflow_session" not in client.cookies
    assert client.get("/session").status_code == 401
    [event] = _events(session, "login_failed")
    assert event.actor_name == "rita" and event.detail["ip"] == "testclient"
    # An unknown user reads the same, and is audited the same.
    form = {"username": "nobody", "password": "x" * 12, "csrf_token": _login_token(client)}
    assert client.post("/login", data=form).status_code == 401
    assert len(_events(session, "login_failed")) == 2


def test_the_login_form_needs_its_csrf_token(client: TestClient, session: Session) -> None:
    make_user(session, "rita")
    _login_token(client)  # the cookie half is set, the form half is missing or wrong
    for token in ("", "forged"):
        form = {"username": "rita", "password": PASSWORD, "csrf_token": token}
        r = client.post("/login", data=form, follow_redirects=False)
        assert r.status_code == 403 and "form expired" in r.text
    assert _events(session, "login") == []


def test_next_only_leads_to_this_site(client: TestClient, session: Session) -> None:
    make_user(session, "rita")
    for target, expected in [
        ("/ui/insights", "/ui/insights"),
        ("https://evil.example/", "/ui"),
        ("//evil.example/x", "/ui"),
        ("/\\evil.example", "/ui"),
    ]:
        client.cookies.clear()
        form = {"username": "rita", "password": PASSWORD, "csrf_token": _login_token(client)}
        r = client.post("/login", data={**form, "next": target}, follow_redirects=False)
        assert r.headers["location"] == expected, target


def test_failed_logins_are_throttled_per_address_and_per_username(
    make_client: MakeClient, session: Session
) -> None:
    make_user(session, "rita")
    make_user(session, "sam")
    first = make_client({"client": ("192.0.2.1", 1000)}, auth_failures_per_minute=3)

    def attempt(c: TestClient, user: str, password: str) -> int:
        form = {"username": user, "password": password, "csrf_token": _login_token(c)}
        return c.post("/login", data=form, follow_redirects=False).status_code

    assert [attempt(first, "rita", "wrong password!") for _ in range(3)] == [401, 401, 401]
    r_code = attempt(first, "rita", PASSWORD)  # even the right password now waits
    assert r_code == 429
    form = {"username": "sam", "password": PASSWORD, "csrf_token": _login_token(first)}
    r = first.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60  # same address
    # Another address may not keep guessing rita's password either (per-username count),
    # but logs in as anyone else.
    second = make_client({"client": ("192.0.2.2", 1000)}, auth_failures_per_minute=3)
    second.app.state.auth_throttle = first.app.state.auth_throttle  # one shared store
    assert attempt(second, "rita", PASSWORD) == 429
    assert attempt(second, "sam", PASSWORD) == 303


def test_failed_keys_are_throttled_per_address(make_client: MakeClient) -> None:
    c = make_client(auth_failures_per_minute=5)
    codes = [c.get("/tickets", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(7)]
    assert codes == [401] * 5 + [429] * 2
    r = c.get("/tickets", headers={"X-API-Key": "guess"})
    assert r.status_code == 429 and "try again" in r.json()["detail"] and r.headers["Retry-After"]


def test_a_disabled_users_live_session_is_a_401_at_the_next_request(
    client: TestClient, session: Session
) -> None:
    make_user(session, "rita")
    log_in(client, "rita", PASSWORD)
    assert client.get("/tickets").status_code == 200
    set_disabled(session, "rita")
    r = client.get("/tickets")
    assert r.status_code == 401 and "log in" in r.json()["detail"]
    # And the password no longer opens a session.
    form = {"username": "rita", "password": PASSWORD, "csrf_token": _login_token(client)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 401


def test_a_reset_password_ends_open_sessions(client: TestClient, session: Session) -> None:
    make_user(session, "rita")
    log_in(client, "rita", PASSWORD)
    reset_password(session, "rita", "another long password")
    assert client.get("/tickets").status_code == 401


def test_expired_sessions_are_a_401(client: TestClient, session: Session) -> None:
    make_user(session, "rita")
    for field, past in [("last_seen_at", timedelta(hours=2)), ("expires_at", timedelta(0))]:
        log_in(client, "rita", PASSWORD)
        assert client.get("/tickets").status_code == 200
        session.expire_all()
        row = session.exec(select(UserSession).order_by(col(UserSession.id).desc())).first()
        assert row is not None
        setattr(row, field, utcnow() - past - timedelta(seconds=1))
        session.add(row)
        session.commit()
        r = client.get("/tickets")
        assert r.status_code == 401 and "expired" in r.json()["detail"], field
        client.cookies.clear()


def test_logout_needs_csrf_and_ends_the_session(client: TestClient, session: Session) -> None:
    make_user(session, "rita")
    csrf = log_in(client, "rita", PASSWORD)
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/session").status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    client.cookies.clear()
    assert client.get("/session").status_code == 401
    assert [e.actor_name for e in _events(session, "logout")] == ["rita"]


def test_a_write_without_or_with_a_wrong_csrf_token_is_403_and_records_nothing(
    client: TestClient, session: Session
) -> None:
    make_user(session, "rita")
    csrf = log_in(client, "rita", PASSWORD)
    tid = _triaged(session)
    review = {"decision": "approve", "revision": 1}
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
        r = client.post(f"/tickets/{tid}/review", json=review, headers=headers)
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    session.expire_all()
    assert session.exec(select(Review)).all() == []
    assert _events(session, "decide") == []
    r = client.post(f"/tickets/{tid}/review", json=review, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text


def test_a_reviewer_cannot_read_the_audit_trail_an_admin_can(
    make_client: MakeClient, client: TestClient, session: Session
) -> None:
    make_user(session, "rita")
    make_user(session, "boss", role="admin")
    log_in(client, "rita", PASSWORD)
    r = client.get("/audit")
    assert r.status_code == 403 and "'admin' scope" in r.json()["detail"]
    admin = make_client()
    log_in(admin, "boss", PASSWORD)
    items = admin.get("/audit", params={"action": "login"}).json()["items"]
    assert [e["actor_name"] for e in items] == ["boss", "rita"]  # newest first
    assert admin.get("/audit", params={"action": "DROP TABLE"}).status_code == 422


def test_logging_in_again_replaces_the_session(client: TestClient, session: Session) -> None:
    make_user(session, "rita")
    log_in(client, "rita", PASSWORD)
    first = client.cookies["ticketflow_session"]
    log_in(client, "rita", PASSWORD)
    assert client.cookies["ticketflow_session"] != first
    session.expire_all()
    assert len(session.exec(select(UserSession)).all()) == 1
    client.cookies.clear()
    client.cookies.set("ticketflow_session", first)
    assert client.get("/session").status_code == 401
