"""Machines: scoped keys; and who is recorded on a review (never a field of the body)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from access.keys import create_key, find_key, revoke_key
from shared.models import ApiKey, AuditEvent, Review
from tests.factories import PASSWORD, make_result, make_ticket, make_user
from tests.helpers import log_in
from tests.producer.conftest import INTAKE_KEY, KEY

REVIEW = {"decision": "approve", "revision": 1, "reviewer": "ceo@example.com"}


def _triaged(session: Session) -> int:
    t = make_ticket(session, status="triaged")
    make_result(session, t.id, draft_reply="We are on it.")
    assert t.id is not None
    return t.id


def _reviews(session: Session) -> list[Review]:
    session.expire_all()
    return list(session.exec(select(Review)).all())


def test_an_intake_key_submits_but_cannot_read_or_review(
    client: TestClient, session: Session
) -> None:
    tid = _triaged(session)
    scoped = {"X-API-Key": create_key(session, "helpdesk", ["intake"]).secret}
    for key in (INTAKE_KEY, scoped):  # TICKETFLOW_API_KEYS entries are intake keys too
        assert client.post("/tickets", json={"body": "hello there"}, headers=key).status_code in (
            200,
            201,
        )
        for path in ("/tickets", f"/tickets/{tid}", "/review", "/taxonomy", "/insights"):
            r = client.get(path, headers=key)
            assert r.status_code == 403 and "'read' scope" in r.json()["detail"], path
        r = client.post(f"/tickets/{tid}/review", json=REVIEW, headers=key)
        assert r.status_code == 403 and "'review' scope" in r.json()["detail"]
    assert _reviews(session) == []


def test_a_read_key_reads_but_cannot_review_or_submit(client: TestClient, session: Session) -> None:
    tid = _triaged(session)
    reader = {"X-API-Key": create_key(session, "dashboard", ["read"]).secret}
    assert client.get(f"/tickets/{tid}", headers=reader).status_code == 200
    assert client.post(f"/tickets/{tid}/review", json=REVIEW, headers=reader).status_code == 403
    assert client.post(f"/tickets/{tid}/review/undo", headers=reader).status_code == 403
    assert client.post("/tickets", json={"body": "hi there"}, headers=reader).status_code == 403
    assert client.get("/audit", headers=reader).status_code == 403
    assert _reviews(session) == []


def test_a_review_by_session_records_the_logged_in_user_not_the_body(
    client: TestClient, session: Session
) -> None:
    tid = _triaged(session)
    make_user(session, "rita")
    csrf = log_in(client, "rita", PASSWORD)
    r = client.post(f"/tickets/{tid}/review", json=REVIEW, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["review"]["reviewer"] == "rita"
    [review] = _reviews(session)
    assert review.reviewer == "rita"
    [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "decide")).all()
    assert (event.actor_kind, event.actor_name, event.ticket_id) == ("user", "rita", tid)
    assert event.detail == {"decision": "approve", "revision": 1}


def test_a_review_by_key_records_the_keys_name(client: TestClient, session: Session) -> None:
    tid = _triaged(session)
    bot = {"X-API-Key": create_key(session, "triage-bot", ["read", "review"]).secret}
    r = client.post(f"/tickets/{tid}/review", json=REVIEW, headers=bot)
    assert r.status_code == 200, r.text
    assert [rv.reviewer for rv in _reviews(session)] == ["key:triage-bot"]


def test_a_key_beats_a_cookie_and_needs_no_csrf(client: TestClient, session: Session) -> None:
    tid = _triaged(session)
    make_user(session, "rita")
    log_in(client, "rita", PASSWORD)
    r = client.post(f"/tickets/{tid}/review", json=REVIEW, headers=KEY)
    assert r.status_code == 200 and r.json()["review"]["reviewer"] == "key:all"


def test_keys_are_stored_hashed_and_a_revoked_key_is_refused(
    client: TestClient, session: Session
) -> None:
    new = create_key(session, "crm", ["read"])
    row = session.exec(select(ApiKey).where(ApiKey.name == "crm")).one()
    assert new.secret.startswith(f"tf_{row.prefix}_")
    assert new.secret not in (row.secret_hash, row.prefix) and len(row.secret_hash) == 64
    headers = {"X-API-Key": new.secret}
    assert client.get("/tickets", headers=headers).status_code == 200
    session.expire_all()
    assert session.get_one(ApiKey, row.id).last_used_at is not None
    revoke_key(session, "crm")
    r = client.get("/tickets", headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    # A key with the right prefix and a wrong secret is no key at all.
    assert find_key(session, f"tf_{row.prefix}_wrong") is None


def test_metrics_take_legacy_keys_and_read_keys(client: TestClient, session: Session) -> None:
    assert client.get("/metrics", headers=INTAKE_KEY).status_code == 200
    reader = create_key(session, "prometheus", ["read"]).secret
    assert client.get("/metrics", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
    intake = create_key(session, "helpdesk", ["intake"]).secret
    assert client.get("/metrics", headers={"X-API-Key": intake}).status_code == 403
    assert client.get("/metrics").status_code == 401


def test_a_refused_review_leaves_no_audit_event(client: TestClient, session: Session) -> None:
    tid = _triaged(session)
    assert client.post(f"/tickets/{tid}/review", json=REVIEW, headers=KEY).status_code == 200
    again = client.post(f"/tickets/{tid}/review", json=REVIEW, headers=KEY)
    assert again.status_code == 409  # already reviewed
    assert client.post("/tickets/424242/review", json=REVIEW, headers=KEY).status_code == 404
    session.expire_all()
    decided = session.exec(select(AuditEvent).where(AuditEvent.action == "decide")).all()
    assert [(e.ticket_id, e.actor_name) for e in decided] == [(tid, "all")]
