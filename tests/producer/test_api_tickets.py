"""Intake and lookup through the HTTP API, on SQLite and PostgreSQL."""

import threading
import time
from datetime import datetime

import fakeredis
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from producer.api.app import create_app
from shared.config import Settings
from shared.models import Ticket
from tests.helpers import FlakyPublisher, RecordingPublisher
from tests.producer.conftest import INTAKE_KEY, KEY

TICKET = {
    "subject": "Login broken",
    "body": "I cannot log in since yesterday.",
    "customer_email": "ana@example.com",
    "external_id": "zendesk-1",
}


def test_post_persists_and_the_relay_sends_it(
    client: TestClient, publisher: RecordingPublisher, session: Session
) -> None:
    r = client.post("/tickets", json=TICKET, headers=KEY)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "queued" and body["triage"] is None
    assert publisher.wait_for(1) == [(body["id"], 1, "tickets")]
    stored = session.get(Ticket, body["id"])
    assert stored is not None and stored.enqueued_at is not None


def test_same_external_id_returns_same_ticket(
    client: TestClient, publisher: RecordingPublisher, session: Session
) -> None:
    first = client.post("/tickets", json=TICKET, headers=KEY)
    again = client.post("/tickets", json={**TICKET, "body": "different text"}, headers=KEY)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert len(session.exec(select(Ticket)).all()) == 1
    publisher.wait_for(2, timeout=1.5)
    assert len(publisher.sent) == 1


def test_same_external_id_from_another_source_is_another_ticket(client: TestClient) -> None:
    a = client.post("/tickets", json=TICKET, headers=KEY).json()
    b = client.post("/tickets", json={**TICKET, "source": "email"}, headers=KEY).json()
    assert a["id"] != b["id"]


class _StuckRedis(RecordingPublisher):
    """A publish that hangs until released, like a Redis that stopped answering."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def send(self, ticket_id: int, revision: int, queue: str, claimed_at: datetime) -> None:
        self.release.wait(30)
        super().send(ticket_id, revision, queue, claimed_at)


def test_a_hung_redis_costs_a_post_nothing(settings: Settings) -> None:
    stuck = _StuckRedis()
    with TestClient(create_app(settings, publisher=stuck)) as c:
        started = time.monotonic()
        codes = [
            c.post(
                "/tickets", json={**TICKET, "external_id": f"h{i}"}, headers=INTAKE_KEY
            ).status_code
            for i in range(5)
        ]
        took = time.monotonic() - started
        assert codes == [201] * 5 and took < 5  # answered while the publish hangs
        stuck.release.set()
        assert len(stuck.wait_for(5)) == 5


def test_tickets_stored_while_redis_is_down_are_sent_once_it_is_back(
    settings: Settings, session: Session
) -> None:
    flaky = FlakyPublisher()
    tuned = settings.model_copy(update={"relay_handoff_s": 0.0, "relay_poll_s": 0.2})
    with TestClient(create_app(tuned, publisher=flaky)) as c:
        r = c.post("/tickets", json=TICKET, headers=INTAKE_KEY)
        assert r.status_code == 201  # stored: the ticket is not lost
        deadline = time.monotonic() + 10
        while not flaky.refused and time.monotonic() < deadline:
            time.sleep(0.05)
        stored = session.get(Ticket, r.json()["id"])
        assert stored is not None and stored.status == "queued" and flaky.sent == []
        flaky.up = True
        assert flaky.wait_for(1) == [(stored.id, 1, "tickets")]
    assert len(flaky.sent) == 1  # once


def test_writes_need_an_api_key(client: TestClient) -> None:
    assert client.post("/tickets", json=TICKET).status_code == 401
    r = client.post("/tickets", json=TICKET, headers={"X-API-Key": "wrong"})
    assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]


def test_bad_payloads_get_422_with_a_clear_message(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    cases = {
        "missing body": {"subject": "x"},
        "blank body": {"body": "   \n "},
        "bad email": {"body": "hi", "customer_email": "not-an-email"},
        "bad source": {"body": "hi", "source": "has spaces"},
        "bad date": {"body": "hi", "received_at": "yesterday"},
        "huge body": {"body": "x" * 50_001},
    }
    for name, payload in cases.items():
        r = client.post("/tickets", json=payload, headers=KEY)
        assert r.status_code == 422, name
        detail = r.json()["detail"]
        assert detail and all("msg" in d and "loc" in d for d in detail), name
    r = client.post(
        "/tickets", content=b"{not json", headers={**KEY, "Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert publisher.sent == []


def test_get_ticket_and_404(client: TestClient) -> None:
    tid = client.post("/tickets", json=TICKET, headers=KEY).json()["id"]
    assert client.get(f"/tickets/{tid}", headers=KEY).json()["subject"] == "Login broken"
    r = client.get("/tickets/424242", headers=KEY)
    assert r.status_code == 404 and "not found" in r.json()["detail"]


def test_list_is_filtered_and_paginated(client: TestClient) -> None:
    for i in range(5):
        client.post("/tickets", json={**TICKET, "external_id": f"e{i}"}, headers=KEY)
    page = client.get(
        "/tickets", params={"status": "queued", "limit": 2, "offset": 1}, headers=KEY
    ).json()
    assert page["total"] == 5 and len(page["items"]) == 2
    assert client.get("/tickets", params={"status": "triaged"}, headers=KEY).json()["total"] == 0
    assert client.get("/tickets", params={"status": "nonsense"}, headers=KEY).status_code == 422
    assert client.get("/tickets", params={"limit": 0}, headers=KEY).status_code == 422


def test_healthz_reports_database_and_redis(
    client: TestClient, fake_redis: fakeredis.FakeServer
) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "redis": "ok"}
    fake_redis.connected = False
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["redis"].startswith("error")


def test_openapi_docs_are_served_when_enabled(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"api_docs": True}), publisher=RecordingPublisher())
    with TestClient(app) as c:
        paths = c.get("/openapi.json").json()["paths"]
        docs = c.get("/docs")
        # Swagger UI is an inline script from a CDN: its own CSP, not the API's.
        assert (
            docs.status_code == 200
            and "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        )
        assert "unsafe-inline" not in c.get("/openapi.json").headers["content-security-policy"]
    assert {
        "/tickets",
        "/tickets/{ticket_id}",
        "/review",
        "/tickets/{ticket_id}/review",
        "/healthz",
    } <= set(paths)


def test_api_runs_the_dispatch_loops_while_it_is_up(settings: Settings) -> None:
    app = create_app(settings, publisher=RecordingPublisher())
    with TestClient(app):
        names = {t.name for t in app.state.dispatch._threads}
        assert names == {"dispatch-relay", "dispatch-recovery"}
    assert app.state.dispatch._threads == []  # stopped with the app
    off = create_app(
        settings.model_copy(update={"recovery_interval_s": 0}), publisher=RecordingPublisher()
    )
    with TestClient(off):
        assert {t.name for t in off.state.dispatch._threads} == {"dispatch-relay"}


def test_before_id_pages_do_not_shift_when_tickets_arrive(client: TestClient) -> None:
    for i in range(6):
        client.post("/tickets", json={**TICKET, "external_id": f"p{i}"}, headers=KEY)
    first = [t["id"] for t in client.get("/tickets?limit=3", headers=KEY).json()["items"]]
    client.post("/tickets", json={**TICKET, "external_id": "late"}, headers=KEY)
    second = [
        t["id"]
        for t in client.get(f"/tickets?limit=3&before_id={first[-1]}", headers=KEY).json()["items"]
    ]
    assert len(set(first + second)) == 6 and max(second) < min(first)
    assert client.get("/tickets?before_id=0", headers=KEY).status_code == 422


def test_category_filter_agrees_with_the_result_shown(client: TestClient, session: Session) -> None:
    """While a re-triage is queued, the listing shows the previous result: filter on it too."""
    from shared.models import TicketStatus
    from tests.factories import make_result, make_ticket

    t = make_ticket(session, status=TicketStatus.queued, revision=2)
    make_result(session, t.id, revision=1, category="billing")
    shown = client.get(f"/tickets/{t.id}", headers=KEY).json()["triage"]["category"]
    assert shown == "billing"
    assert [
        x["id"] for x in client.get("/tickets?category=billing", headers=KEY).json()["items"]
    ] == [t.id]
    make_result(session, t.id, revision=2, category="other")
    assert client.get("/tickets?category=billing", headers=KEY).json()["total"] == 0
    assert client.get("/tickets?category=other", headers=KEY).json()["total"] == 1
