"""Signed webhooks against a real HTTP receiver on loopback: signature and replay window,
retries with backoff, the delivery log, endpoints that refuse, time out or answer 500."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from delivery.send import Channels, Outcome, deliver_event, deliver_reply
from delivery.signing import sign, verify
from shared.config import Settings
from shared.models import OutboundMessage, WebhookDelivery
from tests.delivery.conftest import SECRET, approved
from tests.delivery.servers import SmtpSink, WebhookReceiver
from ticketflow.processes import free_port


@pytest.fixture
def hsettings(dsettings: Settings, receiver: WebhookReceiver) -> Settings:
    return dsettings.model_copy(
        update={
            "webhook_urls": receiver.url,
            "webhook_secret": type(dsettings.webhook_secret)(SECRET),
            "webhook_timeout_s": 0.5,
        }
    )


def _events(db: Engine, settings: Settings, rounds: int = 1) -> list[Outcome]:
    channels = Channels.from_settings(settings)
    out: list[Outcome] = []
    try:
        for _ in range(rounds):
            with Session(db) as s:
                ids = [
                    r.id for r in s.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id)))
                ]
            out += [deliver_event(db, settings, channels, i or 0) for i in ids]
            time.sleep(0.06)
    finally:
        channels.close()
    return out


def test_signature_roundtrip_and_replay_window() -> None:
    body = b'{"event":"reply.sent"}'
    header = sign(SECRET, body, now=1_000_000)
    assert verify(SECRET, header, body, now=1_000_100)
    assert not verify(SECRET, header, body, now=1_000_000 + 301)  # replayed too late
    assert not verify("other", header, body, now=1_000_000)
    assert not verify(SECRET, header, body + b" ", now=1_000_000)
    assert not verify(SECRET, "garbage", body)


def test_events_are_signed_and_logged(
    session: Session,
    db_engine: Engine,
    hsettings: Settings,
    receiver: WebhookReceiver,
    smtp_sink: SmtpSink,
) -> None:
    t = approved(session, hsettings)
    channels = Channels.from_settings(hsettings)
    (reply,) = session.exec(select(OutboundMessage)).all()
    assert deliver_reply(db_engine, hsettings, channels, reply.id or 0) == Outcome.sent
    channels.close()
    assert _events(db_engine, hsettings) == [Outcome.sent, Outcome.sent]
    events = [r["body"]["event"] for r in receiver.requests]
    assert events == ["ticket.reviewed", "reply.sent"]
    assert all(r["verified"] for r in receiver.requests)
    first = receiver.requests[0]
    assert first["body"]["data"] == {
        "ticket_id": t.id,
        "revision": 1,
        "decision": "approve",
        "reviewer": "sam",
    }
    assert first["headers"]["Idempotency-Key"] == first["headers"]["Ticketflow-Delivery"]
    assert receiver.requests[1]["body"]["data"]["message_id"] == reply.remote_id
    log = session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))).all()
    assert [(r.status, r.response_status, r.attempts) for r in log] == [("sent", 200, 1)] * 2


def test_500_forever_retries_then_fails(
    session: Session, db_engine: Engine, hsettings: Settings, receiver: WebhookReceiver
) -> None:
    receiver.answer = lambda n: 500
    approved(session, hsettings, "reject")
    outcomes = _events(db_engine, hsettings, rounds=3)
    assert outcomes == [Outcome.retry, Outcome.retry, Outcome.failed]
    (row,) = session.exec(select(WebhookDelivery)).all()
    assert row.status == "failed" and row.response_status == 500 and row.attempts == 3
    assert row.last_error == "gave up after 3 attempts: webhook answered 500 Internal Server Error"
    keys = {r["headers"]["Idempotency-Key"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and keys == {row.delivery_id}  # the same key each try


def test_retry_then_success(
    session: Session, db_engine: Engine, hsettings: Settings, receiver: WebhookReceiver
) -> None:
    receiver.answer = lambda n: 503 if n == 0 else 204
    approved(session, hsettings, "reject")
    assert _events(db_engine, hsettings, rounds=2) == [Outcome.retry, Outcome.sent]
    (row,) = session.exec(select(WebhookDelivery)).all()
    assert (row.status, row.response_status, row.attempts) == ("sent", 204, 2)


def test_a_4xx_is_permanent(
    session: Session, db_engine: Engine, hsettings: Settings, receiver: WebhookReceiver
) -> None:
    receiver.answer = lambda n: 410
    approved(session, hsettings, "reject")
    assert _events(db_engine, hsettings) == [Outcome.failed]
    (row,) = session.exec(select(WebhookDelivery)).all()
    assert row.last_error == "webhook answered 410 Gone" and row.attempts == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # network only
def test_refused_and_timed_out_endpoints_retry(
    session: Session, db_engine: Engine, hsettings: Settings, receiver: WebhookReceiver
) -> None:
    receiver.delay_s = 1.0  # longer than the 0.5 s timeout
    refused = f"http://127.0.0.1:{free_port()}/nobody"
    settings = hsettings.model_copy(update={"webhook_urls": f"{refused},{receiver.url}"})
    approved(session, settings, "reject")
    assert _events(db_engine, settings) == [Outcome.retry, Outcome.retry]
    rows = session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))).all()
    assert "webhook unreachable: ConnectError" in (rows[0].last_error or "")
    assert rows[1].last_error == "webhook timed out after 0.5s"
    assert all(r.status == "pending" and r.response_status is None for r in rows)


def test_api_ticket_reply_goes_to_the_webhook(
    session: Session, db_engine: Engine, hsettings: Settings, receiver: WebhookReceiver
) -> None:
    approved(session, hsettings, customer_email=None, source="api")
    channels = Channels.from_settings(hsettings)
    (reply,) = session.exec(select(OutboundMessage)).all()
    assert deliver_reply(db_engine, hsettings, channels, reply.id or 0) == Outcome.sent
    channels.close()
    (req,) = [r for r in receiver.requests if r["body"]["event"] == "reply.sent"]
    assert req["verified"] and req["body"]["data"]["body"] == "Your refund is on its way."
    assert req["headers"]["Idempotency-Key"] == reply.idempotency_key


def test_api_ticket_without_webhooks_fails_clearly(
    session: Session, db_engine: Engine, dsettings: Settings
) -> None:
    approved(session, dsettings, customer_email=None, source="api")
    channels = Channels.from_settings(dsettings)
    (reply,) = session.exec(select(OutboundMessage)).all()
    assert deliver_reply(db_engine, dsettings, channels, reply.id or 0) == Outcome.failed
    channels.close()
    session.refresh(reply)
    assert "TICKETFLOW_WEBHOOK_URLS is empty" in (reply.last_error or "")


def test_ticket_triaged_event_commits_with_the_result(
    session: Session, db_engine: Engine, hsettings: Settings, receiver: WebhookReceiver
) -> None:
    from tests.factories import make_ticket
    from worker.engine.fake_engine import FakeEngine
    from worker.pipeline.triage import process_ticket, run_batch

    t = make_ticket(session)
    engine = FakeEngine()
    process_ticket(
        t.id or 0,
        1,
        db=db_engine,
        engine=engine,
        submit=lambda j: run_batch(engine, [j])[0],
        worker="w",
        threshold=0.5,
        webhook_urls=[receiver.url],
    )
    assert _events(db_engine, hsettings) == [Outcome.sent]
    (req,) = receiver.requests
    assert req["verified"] and req["body"]["event"] == "ticket.triaged"
    assert req["body"]["data"]["ticket_id"] == t.id and req["body"]["data"]["revision"] == 1
    assert "category" in req["body"]["data"]
