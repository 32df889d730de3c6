"""Sending triage messages by task name. The producer never imports the worker."""

from __future__ import annotations

import logging
from typing import Protocol

from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from shared.errors import TransientError
from shared.task_names import TRIAGE_TICKET

log = logging.getLogger(__name__)


class Enqueuer(Protocol):
    """What intake code needs from the queue; tests may pass a recording double."""

    def send(self, ticket_id: int, revision: int, queue: str) -> None: ...


class CeleryEnqueuer:
    """Publishes ``triage_ticket(ticket_id, revision)`` on a named queue."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send(self, ticket_id: int, revision: int, queue: str) -> None:
        try:
            self.app.send_task(
                TRIAGE_TICKET,
                args=[ticket_id, revision],
                queue=queue,
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
            )
        except (KombuOperationalError, RedisError, OSError) as err:
            raise TransientError(f"could not reach the queue: {err}") from err


def default_enqueuer() -> CeleryEnqueuer:
    from shared.celery_app import app

    return CeleryEnqueuer(app)
