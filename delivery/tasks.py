"""Celery edge of the delivery worker: its own app and queue, two thin tasks, and the
background loops of a delivery process (relays of both outboxes, the sweeper).

Separate from the triage app: a delivery process loads no model and imports no torch, and
starts in about a second. Messages carry only a row id; the row says what to send.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from delivery.connector_send import deliver_write
from delivery.outboxes import CONNECTOR_WRITES, REPLIES, WEBHOOKS
from delivery.send import Channels, deliver_event, deliver_reply
from delivery.sweeper import sweep
from dispatch.broker_view import BrokerView, RedisBrokerView
from dispatch.publisher import OutboxPublisher
from dispatch.service import DispatchService
from shared.celery_app import create_celery_app
from shared.config import Settings, get_settings
from shared.db import get_engine
from shared.task_names import DELIVER_CONNECTOR_WRITE, DELIVER_REPLY, DELIVER_WEBHOOK

log = logging.getLogger(__name__)


def create_delivery_app(settings: Settings) -> Celery:
    return create_celery_app(settings, include=["delivery.tasks"], queues=[settings.outbound_queue])


app = create_delivery_app(get_settings())
_channels: list[Channels] = []
_background: list[Any] = []


def channels() -> Channels:
    """The process's SMTP and HTTP clients, made once (each thread keeps its SMTP link)."""
    if not _channels:
        _channels.append(Channels.from_settings(get_settings()))
    return _channels[0]


@app.task(name=DELIVER_REPLY, acks_late=True, shared=False)
def deliver_reply_task(row_id: int) -> str:
    return _run(deliver_reply, "reply", row_id)


@app.task(name=DELIVER_WEBHOOK, acks_late=True, shared=False)
def deliver_webhook_task(row_id: int) -> str:
    return _run(deliver_event, "webhook event", row_id)


@app.task(name=DELIVER_CONNECTOR_WRITE, acks_late=True, shared=False)
def deliver_connector_write_task(row_id: int) -> str:
    return _run(_write, "helpdesk write", row_id)


def _write(db: Any, settings: Settings, chans: Channels, row_id: int) -> str:
    return deliver_write(db, settings, chans.helpdesks, row_id)


def _run(job: Any, what: str, row_id: int) -> str:
    """The database being away is not this message's failure: the row keeps its state
    (pending, or sending until its lease ends) and the relay or the sweeper sends it again."""
    settings = get_settings()
    try:
        return str(job(get_engine(settings.resolved_database_url), settings, channels(), row_id))
    except SQLAlchemyError as err:
        log.warning(
            "%s %s: database unavailable, left for the sweeper: %s",
            what,
            row_id,
            str(err).splitlines()[0] if str(err) else type(err).__name__,
        )
        return "deferred"


def relays(settings: Settings, delivery_app: Celery) -> list[DispatchService]:
    """Relays that publish due replies and events to the delivery queue."""
    q = settings.outbound_queue
    return [
        DispatchService(settings, OutboxPublisher(delivery_app, DELIVER_REPLY, q), outbox=REPLIES),
        DispatchService(
            settings, OutboxPublisher(delivery_app, DELIVER_WEBHOOK, q), outbox=WEBHOOKS
        ),
        DispatchService(
            settings,
            OutboxPublisher(delivery_app, DELIVER_CONNECTOR_WRITE, q),
            outbox=CONNECTOR_WRITES,
        ),
    ]


class Sweeper:
    """Runs ``delivery.sweeper.sweep`` every recovery interval from its own thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.settings.recovery_interval_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="delivery-sweeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        s = self.settings
        view: BrokerView | None = None
        db = get_engine(s.resolved_database_url)
        while not self._stop.wait(s.recovery_interval_s):
            try:
                if view is None and s.redis_url.startswith(("redis://", "rediss://", "unix://")):
                    view = RedisBrokerView.from_url(s.redis_url)
                sweep(db, s.lease_s, view, s.outbound_queue)
            except (SQLAlchemyError, RedisError, OSError) as err:
                log.warning(
                    "delivery sweep skipped: %s", str(err).splitlines()[0] if str(err) else err
                )
        if view is not None:
            view.close()


@worker_ready.connect
def _on_ready(sender: Any = None, **_: Any) -> None:
    if getattr(sender, "app", None) is not app:
        return
    settings = get_settings()
    _background[:] = [*relays(settings, app), Sweeper(settings)]
    for part in _background:
        part.start()


@worker_shutdown.connect
def _on_shutdown(sender: Any = None, **_: Any) -> None:
    if getattr(sender, "app", None) is not app:
        return
    for part in _background:
        part.stop()
    _background.clear()
    for c in _channels:
        c.close()
    _channels.clear()
