"""Delivery guarantees are configuration: check them, and that producers send by name."""

from datetime import UTC, datetime

from kombu import Connection

from dispatch.publisher import CLAIMED_AT_HEADER, CeleryPublisher
from shared.celery_app import create_celery_app
from shared.config import load_settings
from shared.task_names import TRIAGE_TICKET


def test_delivery_guarantees_are_configured() -> None:
    s = load_settings(task_time_limit_s=300, visibility_timeout_s=900)
    conf = create_celery_app(s).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == 900 > conf.task_time_limit
    assert conf.task_default_queue == s.queue
    assert conf.broker_transport_options["queue_order_strategy"] == "priority"


def test_enqueue_by_name_on_the_named_queue() -> None:
    s = load_settings(redis_url="memory://", queue="live-q")
    app = create_celery_app(s)
    app.conf.broker_url = "memory://"
    CeleryPublisher(app).send(7, 2, "live-q", datetime(2026, 1, 2, tzinfo=UTC))
    with Connection("memory://") as conn:
        q = conn.SimpleQueue("live-q")
        msg = q.get(timeout=2)
        assert msg.headers["task"] == TRIAGE_TICKET
        assert msg.payload[0] == [7, 2]
        # recovery reads the claim time off the next message of a queue
        assert msg.headers[CLAIMED_AT_HEADER] == datetime(2026, 1, 2, tzinfo=UTC).timestamp()
        msg.ack()
        q.close()
