"""A live ticket is not stuck behind a large backfill: real Redis, a real Celery worker.

2,000 tickets go through the real importer onto the backfill queue; a worker consuming
``-Q <live>,<backfill>`` with ``queue_order_strategy=priority`` starts draining them; then one
live ticket arrives. It must be processed within a few messages, long before the backfill ends.
The task is a stand-in registered under the real task name that records the processing order.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from sqlmodel import Session

from dispatch.publisher import CeleryPublisher
from producer.backfill.importer import Importer
from producer.backfill.reader import RowReader
from producer.intake import send_now, submit_ticket
from shared.celery_app import create_celery_app
from shared.config import Settings, load_settings
from shared.db import make_engine, upgrade
from shared.models import TicketCreate
from shared.task_names import TRIAGE_TICKET
from tests.conftest import REDIS_TEST_URL

pytestmark = pytest.mark.integration

BACKFILL_SIZE = 2_000
TASK_SECONDS = 0.01


@pytest.fixture
def run_id() -> Iterator[str]:
    """A unique name for this run's queues and keys; everything under it is deleted after."""
    run = f"test.priority.{uuid.uuid4().hex[:8]}"
    yield run
    with redis.Redis.from_url(REDIS_TEST_URL) as client:
        for key in client.scan_iter(match=f"*{run}*"):
            client.delete(key)


@pytest.fixture
def settings(run_id: str, tmp_path: Path) -> Settings:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'tf.db'}",
        data_dir=tmp_path,
        redis_url=REDIS_TEST_URL,
        queue=f"{run_id}.live",
        backfill_queue=f"{run_id}.backfill",
    )
    upgrade(settings)
    return settings


def recording_app(settings: Settings, order_key: str) -> Celery:
    """The production Celery config, with a trivial task in place of the model worker."""
    app = create_celery_app(settings)
    app.conf.update(include=[], worker_enable_remote_control=False)
    client = redis.Redis.from_url(REDIS_TEST_URL)

    @app.task(name=TRIAGE_TICKET)
    def record(ticket_id: int, revision: int) -> None:
        time.sleep(TASK_SECONDS)  # a little work, so "a few messages" is not a race
        client.rpush(order_key, ticket_id)

    return app


class CountingPublisher:
    """Notes how many messages the worker had finished the moment the live one was published."""

    def __init__(self, inner: CeleryPublisher, processed: Callable[[], int]) -> None:
        self.inner = inner
        self.processed = processed
        self.processed_at_send = -1

    def send(self, ticket_id: int, revision: int, queue: str, claimed_at: datetime) -> None:
        self.inner.send(ticket_id, revision, queue, claimed_at)
        self.processed_at_send = self.processed()


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker")
        time.sleep(0.02)


def test_live_ticket_overtakes_a_large_backfill(
    settings: Settings, run_id: str, tmp_path: Path
) -> None:
    order_key = f"{run_id}.order"
    app = recording_app(settings, order_key)
    publisher = CeleryPublisher(app)
    client = redis.Redis.from_url(REDIS_TEST_URL)
    history = tmp_path / "history.csv"
    history.write_text(
        "id,body\n" + "".join(f"{i},Old question {i}\n" for i in range(BACKFILL_SIZE))
    )

    engine = make_engine(settings.resolved_database_url)
    with Session(engine, expire_on_commit=False) as session:
        with RowReader(history) as reader:
            counts = Importer(session, publisher, settings.backfill_queue).run(reader)
        assert counts.enqueued == BACKFILL_SIZE
        assert client.llen(settings.backfill_queue) == BACKFILL_SIZE

        def processed() -> list[int]:
            return [int(x) for x in client.lrange(order_key, 0, -1)]

        live_publisher = CountingPublisher(publisher, lambda: len(processed()))

        with start_worker(
            app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            queues=[settings.queue, settings.backfill_queue],
            loglevel="WARNING",
            shutdown_timeout=30,
        ):
            wait_for(lambda: len(processed()) >= 20)  # the worker is busy with the backfill
            live = submit_ticket(
                session,
                TicketCreate(source="api", body="Someone just used my stolen card!"),
                settings.queue,
            )
            assert live.ticket.id is not None
            assert send_now(session, live_publisher, [live.ticket.id]) == 1
            before = live_publisher.processed_at_send
            wait_for(lambda: live.ticket.id in processed(), timeout=30)
            position = processed().index(live.ticket.id)
        left = client.llen(settings.backfill_queue)
    engine.dispose()
    client.close()

    # Prefetch 1: only the message in hand (and one being fetched) may go first.
    assert position - before <= 5, f"live ticket was message {position}, arrived at {before}"
    assert left > BACKFILL_SIZE // 2, "the backfill should still be far from done"
