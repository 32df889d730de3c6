"""`ticketflow deliver` processes against a real SMTP server, Redis and PostgreSQL: a delivery
worker killed with SIGKILL mid-batch loses nothing, and the receiver gets every approved
reply under its own Message-ID; a repeat, if any, is the identical message."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlmodel import Session, select

from shared.config import Settings
from shared.db import make_engine
from shared.models import OutboundMessage, TicketMessage
from tests.conftest import REDIS_TEST_URL
from tests.delivery.conftest import SECRET, approved
from tests.delivery.servers import SmtpSink, WebhookReceiver
from ticketflow.processes import Child, child_env, spawn, ticketflow_cmd, wait_until

pytestmark = pytest.mark.integration
N = 30
CONCURRENCY = 4


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    s = SmtpSink().start()
    s.delay_s = 0.1  # ~40 messages/s with 4 threads: the kill lands mid-batch
    yield s
    s.stop()


def _env(db_url: str, queue: str, sink: SmtpSink, tmp_path: Path, **extra: str) -> dict[str, str]:
    values = {
        "database_url": db_url,
        "redis_url": REDIS_TEST_URL,
        "outbound_queue": queue,
        "smtp_url": sink.url,
        "smtp_timeout_s": "2",
        "webhook_timeout_s": "2",
        "support_address": "help@shop.example",
        "delivery_hold_s": "0",
        "delivery_lease_s": "5",
        "delivery_concurrency": str(CONCURRENCY),
        "lease_s": "5",
        "recovery_interval_s": "1",
        "relay_poll_s": "0.2",
        "task_time_limit_s": "10",
        "visibility_timeout_s": "12",
        "data_dir": str(tmp_path),
        **extra,
    }
    return child_env({f"TICKETFLOW_{k.upper()}": v for k, v in values.items()})


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_sigkill_mid_batch_delivers_each_reply_once(
    db_url: str, settings: Settings, sink: SmtpSink, tmp_path: Path
) -> None:
    queue = f"it-out-{uuid.uuid4().hex[:8]}"
    env = _env(db_url, queue, sink, tmp_path)
    s = settings.model_copy(update={"support_address": "help@shop.example"})
    db = make_engine(db_url)
    with Session(db, expire_on_commit=False) as session:
        for i in range(N):
            approved(session, s, external_id=f"k{i}", customer_email=f"c{i}@example.com")
    workers: list[Child] = []
    try:
        first = spawn("deliver0", ticketflow_cmd("deliver"), env, tmp_path / "logs")
        workers.append(first)
        wait_until(lambda: len(sink.received) >= 8, 60, "the first replies", first)
        first.kill()  # SIGKILL: messages in flight, rows being sent
        assert len(sink.received) < N, "the kill came too late to test anything"
        second = spawn("deliver1", ticketflow_cmd("deliver"), env, tmp_path / "logs")
        workers.append(second)

        def all_sent() -> bool:
            with Session(db) as session:
                rows = session.exec(select(OutboundMessage)).all()
                return all(r.status == "sent" for r in rows)

        wait_until(all_sent, 90, "every reply to be sent", second, interval=0.5)
    finally:
        for w in workers:
            w.stop()
        redis.Redis.from_url(REDIS_TEST_URL).delete(queue)
    with Session(db) as session:
        rows = session.exec(select(OutboundMessage)).all()
        outgoing = session.exec(
            select(TicketMessage).where(TicketMessage.sender == "help@shop.example")
        ).all()
    db.dispose()
    ids = Counter(m["Message-ID"] for m in sink.mails())
    assert set(ids) == {r.remote_id for r in rows} and len(ids) == N  # every reply arrived
    repeats = {mid: n for mid, n in ids.items() if n > 1}
    # Only a message whose SMTP transaction finished before the kill and whose "sent" was
    # not yet written can arrive twice: at most one per sending thread.
    assert sum(n - 1 for n in repeats.values()) <= CONCURRENCY, repeats
    by_id: dict[str, set[bytes]] = {}
    for raw, mail in zip(sink.received, sink.mails(), strict=True):
        by_id.setdefault(mail["Message-ID"], set()).add(raw)
    assert all(len(copies) == 1 for copies in by_id.values())  # a repeat is the same bytes
    assert len(outgoing) == N  # one outgoing message per ticket, whatever the repeats
    print(f"received {len(sink.received)} mails for {N} replies; repeats: {len(repeats)}")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_smtp_down_then_up_and_signed_events(
    db_url: str, settings: Settings, sink: SmtpSink, tmp_path: Path
) -> None:
    """The SMTP server is down when `ticketflow deliver` starts: replies are retried with
    backoff and delivered once it is back; their webhook events reach a real HTTP receiver,
    signed."""
    sink.delay_s = 0.0
    sink.stop()
    receiver = WebhookReceiver(SECRET).start()
    queue = f"it-out-{uuid.uuid4().hex[:8]}"
    env = _env(
        db_url, queue, sink, tmp_path,
        delivery_backoff_s="0.3", delivery_max_backoff_s="0.6", delivery_max_attempts="50",
        webhook_urls=receiver.url, webhook_secret=SECRET,
    )  # fmt: skip
    s = settings.model_copy(
        update={"support_address": "help@shop.example", "webhook_urls": receiver.url}
    )
    db = make_engine(db_url)
    with Session(db, expire_on_commit=False) as session:
        for i in range(3):
            approved(session, s, external_id=f"d{i}", customer_email=f"d{i}@example.com")
        approved(session, s, "reject", external_id="rejected")

    def rows() -> list[OutboundMessage]:
        with Session(db) as session:
            return list(session.exec(select(OutboundMessage)).all())

    child = spawn("deliver-down", ticketflow_cmd("deliver"), env, tmp_path / "logs")
    try:
        wait_until(lambda: all(r.attempts >= 2 for r in rows()), 60, "two refused tries", child)
        now = rows()
        assert all(r.status in ("pending", "sending") for r in now)  # retried, not given up
        assert all("SMTP server unreachable" in (r.last_error or "") for r in now)
        sink.start()
        wait_until(lambda: all(r.status == "sent" for r in rows()), 60, "delivery", child)
        wait_until(lambda: len(receiver.requests) >= 7, 30, "the webhook events", child)
    finally:
        child.stop()
        receiver.stop()
        redis.Redis.from_url(REDIS_TEST_URL).delete(queue)
        db.dispose()
    assert len(sink.received) == 3  # the rejected ticket's draft never went out
    events = Counter(r["body"]["event"] for r in receiver.requests)
    assert events == {"ticket.reviewed": 4, "reply.sent": 3}
    assert all(r["verified"] for r in receiver.requests)
