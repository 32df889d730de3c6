"""``/metrics`` on the API: behind the key, counts what the API did, reads live queue depth and
ticket ages; and the record functions' labels stay bounded."""

from __future__ import annotations

from datetime import timedelta

import fakeredis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from shared import metrics
from shared.config import Settings
from shared.db import make_engine
from shared.models import TicketStatus, utcnow
from tests.factories import make_ticket
from tests.producer.conftest import INTAKE_KEY, KEY


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_need_the_api_key(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=KEY).status_code == 200
    # What Prometheus sends from `authorization: {credentials_file: ...}`.
    r = client.get("/metrics", headers={"Authorization": "Bearer test-key"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")


def test_metrics_count_intake_and_read_queue_depth(
    client: TestClient, settings: Settings, fake_redis: fakeredis.FakeServer
) -> None:
    created = _value("ticketflow_tickets_received_total", source="api", outcome="created")
    dup = _value("ticketflow_tickets_received_total", source="api", outcome="duplicate")
    other = _value("ticketflow_tickets_received_total", source="other", outcome="created")
    for _ in range(2):
        r = client.post("/tickets", json={"body": "help", "external_id": "m-1"}, headers=KEY)
        assert r.status_code in (200, 201)
    client.post("/tickets", json={"body": "hi", "source": "crm-7"}, headers=KEY)
    fakeredis.FakeRedis(server=fake_redis).lpush(settings.queue, b"a", b"b", b"c")

    got = _samples(client.get("/metrics", headers=KEY).text)
    received = "ticketflow_tickets_received_total"
    assert got[(received, (("outcome", "created"), ("source", "api")))] == created + 1
    assert got[(received, (("outcome", "duplicate"), ("source", "api")))] == dup + 1
    # A free-text source is one "other" series, not a series per client-chosen name.
    assert got[(received, (("outcome", "created"), ("source", "other")))] == other + 1
    assert got[("ticketflow_queue_depth", (("queue", settings.queue),))] == 3
    assert got[("ticketflow_queue_depth", (("queue", settings.backfill_queue),))] == 0
    assert got[("ticketflow_scrape_error", (("part", "redis"),))] == 0


def test_metrics_report_stuck_tickets_by_age(client: TestClient, settings: Settings) -> None:
    with Session(make_engine(settings.resolved_database_url)) as s:
        long_ago = utcnow() - timedelta(hours=2)
        make_ticket(s, status=TicketStatus.processing, updated_at=long_ago)
        make_ticket(s, status=TicketStatus.processing)
        make_ticket(s, status=TicketStatus.triaged)
    got = _samples(client.get("/metrics", headers=KEY).text)
    assert got[("ticketflow_tickets", (("status", "processing"),))] == 2
    assert got[("ticketflow_tickets", (("status", "triaged"),))] == 1
    age = got[("ticketflow_oldest_ticket_age_seconds", (("status", "processing"),))]
    assert 7100 < age < 7400
    assert got[("ticketflow_oldest_ticket_age_seconds", (("status", "failed"),))] == 0


def test_a_scrape_answers_while_redis_is_down(settings: Settings) -> None:
    from producer.api.app import create_app
    from tests.helpers import RecordingPublisher

    def down() -> fakeredis.FakeRedis:
        server = fakeredis.FakeServer()
        server.connected = False
        return fakeredis.FakeRedis(server=server)

    app = create_app(settings, publisher=RecordingPublisher(), redis_client=down)
    with TestClient(app) as c:
        r = c.get("/metrics", headers=INTAKE_KEY)
    assert r.status_code == 200
    got = _samples(r.text)
    assert got[("ticketflow_scrape_error", (("part", "redis"),))] == 1
    assert got[("ticketflow_scrape_error", (("part", "database"),))] == 0


def test_stage_timer_records_even_when_the_stage_raises() -> None:
    before = _value("ticketflow_stage_seconds_count", stage="store")
    try:
        with metrics.stage("store"):
            raise ValueError("boom")
    except ValueError:
        pass
    assert _value("ticketflow_stage_seconds_count", stage="store") == before + 1


def test_delivery_and_review_recorders() -> None:
    before = _value("ticketflow_deliveries_total", channel="email", outcome="sent")
    metrics.record_delivery("email", "sent")
    assert _value("ticketflow_deliveries_total", channel="email", outcome="sent") == before + 1
    n = _value("ticketflow_review_time_to_decision_seconds_count", decision="edit")
    metrics.record_review("edit", 42.0)
    assert _value("ticketflow_review_time_to_decision_seconds_count", decision="edit") == n + 1
