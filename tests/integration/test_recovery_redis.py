"""Recovery against a real Redis: what kombu writes is what recovery reads.

A private ``redis-server`` per test, real Celery publishes and a real kombu consumer that takes
a message and does not acknowledge it (as a worker killed mid-ticket leaves it).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch.broker_view import UNACKED_INDEX_KEY, RedisBrokerView, triage_args
from dispatch.publisher import CeleryPublisher
from dispatch.recovery import Recovery
from dispatch.relay import relay
from shared.celery_app import create_celery_app
from shared.config import load_settings
from shared.models import Ticket, TicketStatus
from tests.factories import make_ticket
from ticketflow.processes import free_port, wait_until

pytestmark = pytest.mark.integration
QUEUE = "tickets"
LEASE_S = 20


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
    server = subprocess.Popen(["redis-server", *args], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    wait_until(up, 10, "redis-server to start")
    client.close()
    yield url
    server.terminate()
    server.wait(10)


def _age_claims(db: Engine, seconds: float) -> None:
    """As if every claim happened ``seconds`` ago (the test cannot wait a lease)."""
    claimed = select(Ticket.id, Ticket.enqueued_at).where(col(Ticket.enqueued_at).is_not(None))
    with Session(db) as s:
        for ticket_id, claimed_at in s.exec(claimed).all():
            assert claimed_at is not None
            s.exec(  # type: ignore[call-overload]
                update(Ticket)
                .where(col(Ticket.id) == ticket_id)
                .values(enqueued_at=claimed_at - timedelta(seconds=seconds))
            )
        s.commit()


def test_lost_and_abandoned_messages_on_a_real_redis(
    redis_url: str, session: Session, db_engine: Engine, tmp_path: Path
) -> None:
    settings = load_settings(redis_url=redis_url, data_dir=tmp_path, queue=QUEUE)
    app = create_celery_app(settings)
    publisher = CeleryPublisher(app)
    client = redis.Redis.from_url(redis_url)
    view = RedisBrokerView.from_url(redis_url)
    taken, lost = (make_ticket(session, queue=QUEUE) for _ in range(2))
    assert relay(db_engine, publisher) == 2
    with Session(db_engine) as s:
        first = s.get(Ticket, taken.id)
        assert first is not None and first.enqueued_at is not None
        assert view.head(QUEUE).claimed_at == pytest.approx(first.enqueued_at.timestamp())
    _age_claims(db_engine, 120)  # as if claimed two minutes ago
    waiting = make_ticket(session, queue=QUEUE)  # claimed now, behind the other two
    assert relay(db_engine, publisher) == 1
    assert client.llen(QUEUE) == 3

    with app.connection_for_read() as conn:
        consumer = conn.SimpleQueue(QUEUE, no_ack=False)
        message = consumer.get(timeout=5)  # a worker takes `taken` and never acknowledges
        held = view.held()
        assert [(h.ticket_id, h.revision) for h in held] == [(taken.id, 1)]
        assert abs(held[0].delivered_at - time.time()) < 5
        client.rpop(QUEUE)  # `lost` vanishes (a pop whose worker died before its bookkeeping)

        with Session(db_engine) as s:  # `taken` was being processed by the dead worker
            s.exec(  # type: ignore[call-overload]
                update(Ticket)
                .where(col(Ticket.id) == taken.id)
                .values(status=TicketStatus.processing)
            )
            s.commit()
        # The message was delivered just now: its worker is alive, only not leased yet.
        recovery = Recovery(db_engine, view, [QUEUE], LEASE_S)
        assert recovery.run_pass().handed_back == 0
        client.zadd(UNACKED_INDEX_KEY, {held[0].tag: time.time() - 100})  # delivered long ago
        second = recovery.run_pass()
        assert second.handed_back == 1
        assert client.zscore(UNACKED_INDEX_KEY, held[0].tag) == 0  # due for redelivery
        # `waiting` still sits in the queue behind its head: never suspected. `lost` is gone:
        # re-sent after its second absence.
        assert second.resent == [lost.id]
        assert relay(db_engine, publisher, ids=second.resent) == 1
        assert set(_queued_tickets(client)) == {lost.id, waiting.id}
        message.ack()
        consumer.close()
    assert recovery.run_pass().resent == []  # nothing more to do, nothing sent twice
    view.close()
    client.close()


def _queued_tickets(client: redis.Redis) -> list[int]:
    out = []
    for raw in client.lrange(QUEUE, 0, -1):
        args = triage_args(json.loads(raw))
        assert args is not None
        out.append(args[0])
    return out
