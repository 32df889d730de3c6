"""The one Celery app. Producers use it to send by task name; workers import ``worker.edge.tasks``.

Delivery guarantees come from configuration, not code: a message is acknowledged only after
its task returned (``acks_late``), is re-queued if the worker process dies
(``task_reject_on_worker_lost``), and each worker thread holds one message at a time
(prefetch 1). Redis re-delivers an unacknowledged message after ``visibility_timeout``, which
settings keep above the task time limit so a slow ticket is not handed out twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery
from kombu import Queue

from shared.config import Settings, get_settings
from shared.redis_transport import TRANSPORT


def create_celery_app(
    settings: Settings,
    include: Sequence[str] = ("worker.edge.tasks",),
    queues: Sequence[str] | None = None,
) -> Celery:
    """The triage app by default; ``delivery.tasks`` makes one for its own queue with
    ``include`` and ``queues`` (the first queue is the default one)."""
    queues = list(queues or (settings.queue, settings.backfill_queue))
    app = Celery("ticketflow", broker=settings.redis_url, include=list(include))
    if settings.redis_url.startswith(("redis://", "rediss://")):
        # kombu's Redis transport plus a guard that keeps workers alive across a Redis restart.
        app.conf.broker_transport = TRANSPORT
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # results live in the database, not in Redis
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=queues[0],
        task_queues=[Queue(q) for q in queues],
        task_time_limit=settings.task_time_limit_s,
        task_soft_time_limit=max(settings.task_time_limit_s - 5, 1),
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            # Listed queues are polled in order: live tickets before backfill.
            "queue_order_strategy": "priority",
            # Sweep for messages of dead workers every redelivery_check_s (kombu's default
            # scans only every 10th sweep, i.e. ~100 s).
            "unacked_restore_interval": settings.redelivery_check_s,
            "unacked_restore_throttle": 1,
            # A dead or unreachable Redis is an error in seconds, never a hang: the relay
            # retries later, and a worker's polls (1 s) stay well inside the read timeout.
            "socket_connect_timeout": 3,
            "socket_timeout": 10,
        },
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # Worker events feed Flower; a "sent" event per publish would cost ~35% of enqueue speed.
        worker_send_task_events=True,
    )
    return app


app = create_celery_app(get_settings())
