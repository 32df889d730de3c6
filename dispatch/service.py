"""The relay and recovery loops that run inside every API and worker process.

Nothing to deploy: wherever tickets are taken in or processed, stored tickets get published.
The API nudges its relay with each new ticket's id, so a POST returns right after its commit
and the message follows within milliseconds; tickets stored by other producers are picked up
after ``relay_handoff_s``. While Redis or the database is away the relay backs off (up to
``MAX_BACKOFF_S``), so tickets stored during an outage go out seconds after it ends.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from dispatch.broker_view import BrokerView, RedisBrokerView
from dispatch.outbox import TICKETS, Outbox
from dispatch.publisher import Publisher
from dispatch.recovery import Recovery
from dispatch.relay import relay
from shared import metrics
from shared.config import Settings
from shared.db import get_engine
from shared.errors import TransientError
from shared.models import utcnow

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 5.0
RECOVERY_LOCK = "ticketflow:recovery-lock"


class DispatchService:
    """Relays one outbox (tickets unless told otherwise); recovery runs for tickets only, the
    delivery outboxes have their own sweeper (``delivery.sweeper``)."""

    def __init__(
        self,
        settings: Settings,
        publisher: Publisher,
        view_factory: Callable[[], BrokerView] | None = None,
        outbox: Outbox = TICKETS,
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.outbox = outbox
        self.view_factory = view_factory or _default_view(settings)
        if outbox is not TICKETS:
            self.view_factory = None
        self._nudged: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def nudge(self, *ticket_ids: int) -> None:
        """Publish these tickets now (from the relay thread, not the caller's)."""
        with self._lock:
            self._nudged.update(ticket_ids)
        self._wake.set()

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        relay_name = "relay" if self.outbox is TICKETS else f"relay-{self.outbox.name}"
        loops = [(relay_name, self._relay_loop)]
        if self.settings.recovery_interval_s > 0 and self.view_factory is not None:
            loops.append(("recovery", self._recovery_loop))
        for name, target in loops:
            t = threading.Thread(target=target, name=f"dispatch-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=10)
        self._threads = []

    def relay_once(self, scan: bool = True) -> int:
        """Publish nudged tickets, then (``scan``) any unsent ticket older than the hand-off."""
        with self._lock:
            ids, self._nudged = sorted(self._nudged), set()
        db = get_engine(self.settings.resolved_database_url)
        try:
            sent = relay(db, self.publisher, ids=ids, outbox=self.outbox) if ids else 0
        except BaseException:
            self.nudge(*ids)  # not lost from memory: sent on the next try, not the next scan
            raise
        if not scan:
            return sent
        handoff = (
            utcnow() - timedelta(seconds=self.settings.relay_handoff_s)
            if self.outbox.handoff
            else None
        )
        return sent + relay(db, self.publisher, stored_before=handoff, outbox=self.outbox)

    def _relay_loop(self) -> None:
        backoff, failing, last_scan = 0.0, False, 0.0
        poll = self.settings.relay_poll_s
        while not self._stop.is_set():
            self._wake.wait(backoff or poll)
            self._wake.clear()
            if self._stop.is_set():
                return
            # A nudge sends its tickets at once; the scan for others runs once per poll.
            scan = time.monotonic() - last_scan >= poll
            try:
                self.relay_once(scan)
                if scan:
                    last_scan = time.monotonic()
            except (TransientError, SQLAlchemyError) as err:
                if not failing:
                    log.warning("relay paused, will retry: %s", _first_line(err))
                failing, backoff = True, min(max(backoff * 2, 0.5), MAX_BACKOFF_S)
                continue
            if failing:
                log.info("relay resumed")
            failing, backoff = False, 0.0

    def _recovery_loop(self) -> None:
        assert self.view_factory is not None
        interval = self.settings.recovery_interval_s
        view: BrokerView | None = None
        recovery: Recovery | None = None
        resume_at = 0.0
        try:
            while not self._stop.wait(interval):
                if time.monotonic() < resume_at:
                    continue
                try:
                    if view is None:
                        view = self.view_factory()
                        db = get_engine(self.settings.resolved_database_url)
                        queues = [self.settings.queue, self.settings.backfill_queue]
                        recovery = Recovery(db, view, queues, self.settings.lease_s)
                    assert recovery is not None
                    if not view.lock(RECOVERY_LOCK, self._token, interval * 3):
                        continue
                    done = recovery.run_pass()
                    metrics.record_recovered(done.handed_back, len(done.resent))
                    resent = done.resent
                    if resent:
                        self.nudge(*resent)
                except (SQLAlchemyError, TransientError, OSError, RedisError) as err:
                    log.warning("recovery pass skipped: %s", _first_line(err))
                    # Workers could not renew their leases either: give them time to, once
                    # the outage ends, before reading an expired lease as a dead worker.
                    resume_at = time.monotonic() + self.settings.lease_s / 2
        finally:
            if view is not None:
                view.close()


def _default_view(settings: Settings) -> Callable[[], BrokerView] | None:
    if not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        return None  # memory:// (tests): no Redis to look into
    return lambda: RedisBrokerView.from_url(settings.redis_url)


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
