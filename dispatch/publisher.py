"""Publishing one message by task name: a ticket to triage, or an outbox row to deliver.
Nothing here imports the worker."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from shared.errors import TransientError
from shared.task_names import TRIAGE_TICKET

# Message header carrying the claim time (epoch seconds): recovery reads it off the message at
# the head of a queue to tell "still waiting in Redis" from "taken and lost".
CLAIMED_AT_HEADER = "ticketflow_claimed_at"


class Publisher(Protocol):
    """What the relay needs from the queue; tests pass a recording double."""

    def send(self, ticket_id: int, revision: int, queue: str, claimed_at: datetime) -> None: ...


class CeleryPublisher:
    """Publishes ``triage_ticket(ticket_id, revision)`` on a named queue, without retrying:
    the relay retries the whole claim later, so a publish never waits out an outage."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send(self, ticket_id: int, revision: int, queue: str, claimed_at: datetime) -> None:
        try:
            self.app.send_task(
                TRIAGE_TICKET,
                args=[ticket_id, revision],
                queue=queue,
                retry=False,
                headers={CLAIMED_AT_HEADER: claimed_at.timestamp()},
            )
        except (KombuOperationalError, RedisError, OSError) as err:
            raise TransientError(f"could not reach the queue: {err}") from err


class OutboxPublisher:
    """Publishes ``task(row_id)`` for a delivery outbox row on one queue, like
    ``CeleryPublisher``: no retry here, the relay gives the claim back on failure."""

    def __init__(self, app: Celery, task: str, queue: str) -> None:
        self.app = app
        self.task = task
        self.queue = queue

    def send(self, row_id: int, revision: int, queue: str, claimed_at: datetime) -> None:
        try:
            self.app.send_task(
                self.task,
                args=[row_id],
                queue=self.queue,
                retry=False,
                headers={CLAIMED_AT_HEADER: claimed_at.timestamp()},
            )
        except (KombuOperationalError, RedisError, OSError) as err:
            raise TransientError(f"could not reach the queue: {err}") from err
