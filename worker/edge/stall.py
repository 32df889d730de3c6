"""What a worker does when a model call never returns (a wedged GPU driver, a hung kernel).

Python cannot interrupt a thread stuck inside such a call, and the threads pool cannot stop its
task (Celery's own cold shutdown fails on it), so the worker would sit on its messages until
Redis's visibility timeout (an hour by default) hands them out again, looking alive all the
while. Instead it marks every message it holds for redelivery at the next sweep (seconds, not
an hour), so other workers take those tickets, and exits with ``EXIT_STALLED`` for
the supervisor (Docker's restart policy, systemd) to start a fresh worker; a device that stays
wedged then shows up as a worker that fails at start. Results stay one per (ticket, revision),
so a ticket finished just before the exit is not triaged twice.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from shared import metrics
from worker.edge.leases import held_requests
from worker.engine.base import ChatMessages, Classification, DraftStream, Engine, EngineInfo

log = logging.getLogger(__name__)

EXIT_STALLED = 70  # EX_SOFTWARE
StallHandler = Callable[[float, int], None]  # (seconds running, texts in the call)

_consumer: Any = None  # Celery's consumer, once the worker is ready (see worker.edge.tasks)


class StallWatchdog:
    """Reports each model call that has run ``stall_s``, once, from its own thread.

    Calls are timed one by one, not per batch: a knowledge-base rebuild inside a batch is many
    short embedding calls, and a generate call stops itself after the draft time limit.
    """

    def __init__(self, stall_s: float, on_stall: StallHandler) -> None:
        self.stall_s = stall_s
        self.on_stall = on_stall
        self._calls: dict[int, tuple[float, int]] = {}  # call -> (start, texts)
        self._reported: set[int] = set()
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._watch, name="model-watchdog", daemon=True).start()

    @contextmanager
    def watching(self, texts: int) -> Iterator[None]:
        call = next(self._ids)
        with self._lock:
            self._calls[call] = (time.monotonic(), texts)
        try:
            yield
        finally:
            with self._lock:
                del self._calls[call]
                self._reported.discard(call)

    def close(self) -> None:
        self._closed.set()

    def longest_running_s(self) -> float:
        """Seconds the oldest model call in progress has run; 0 when none runs."""
        with self._lock:
            starts = [start for start, _ in self._calls.values()]
        return time.monotonic() - min(starts) if starts else 0.0

    def _watch(self) -> None:
        while not self._closed.wait(min(1.0, self.stall_s / 4)):
            now = time.monotonic()
            with self._lock:
                due = [
                    (call, now - start, texts)
                    for call, (start, texts) in self._calls.items()
                    if now - start >= self.stall_s and call not in self._reported
                ]
                self._reported.update(call for call, _, _ in due)
            for _, elapsed, texts in due:
                self.on_stall(elapsed, texts)


class WatchedEngine:
    """The engine, with every model call timed by a ``StallWatchdog``."""

    def __init__(self, engine: Engine, watchdog: StallWatchdog) -> None:
        self.engine = engine
        self.watchdog = watchdog

    @property
    def info(self) -> EngineInfo:
        return self.engine.info

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        with self.watchdog.watching(len(texts)):
            return self.engine.classify(texts)

    def draft(self, chats: Sequence[ChatMessages]) -> list[str]:
        with self.watchdog.watching(len(chats)):
            return self.engine.draft(chats)

    def draft_stream(self) -> DraftStream | None:
        """The engine's per-ticket draft stream, its steps timed by the watchdog; None for
        engines that draft in batches only."""
        make = getattr(self.engine, "draft_stream", None)
        stream: DraftStream | None = make(self.watchdog.watching) if callable(make) else None
        return stream

    def control_tokens(self) -> frozenset[str]:
        tokens = getattr(self.engine, "control_tokens", None)
        return tokens() if callable(tokens) else frozenset()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        with self.watchdog.watching(len(texts)):
            return self.engine.embed(texts)

    def warm_up(self) -> None:
        with self.watchdog.watching(1):  # a device wedged from the start must not hang here
            self.engine.warm_up()

    def close(self) -> None:
        """Release the engine's processes (vLLM's engine core); engines without any have no
        ``close``."""
        close = getattr(self.engine, "close", None)
        if callable(close):
            close()


def remember_consumer(consumer: Any) -> None:
    global _consumer
    _consumer = consumer


def hand_back_messages() -> int:
    """Mark every message this worker holds as delivered long ago; returns how many.

    The next sweep of any worker (every ``TICKETFLOW_REDELIVERY_CHECK_S``, the replacement
    worker's included) then puts them back on their queues instead of waiting for the
    visibility timeout. They are not pushed back from here: this process still has a
    blocking pop waiting on the queue, which would take one straight back and die with it.
    """
    if _consumer is None:
        raise RuntimeError("the worker has no consumer yet")
    tags = [r.message.delivery_tag for r in held_requests()]
    channel = _consumer.task_consumer.channel
    if tags:  # xx: a message acknowledged meanwhile is not brought back
        channel.client.zadd(channel.unacked_index_key, dict.fromkeys(tags, 0), xx=True)
    return len(tags)


def _report(elapsed: float, items: int) -> None:
    metrics.record_stall()
    log.critical(
        "a model call on %d text(s) has not returned after %.0fs (wedged GPU or driver?); "
        "exiting with code %d",
        items,
        elapsed,
        EXIT_STALLED,
    )


def _exit_now() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_STALLED)


def end_worker(elapsed: float, items: int) -> None:
    """For a worker whose tasks run in its own process (threads or solo pool)."""
    _report(elapsed, items)
    try:
        n = hand_back_messages()
        log.critical("%d message(s) handed back: the next sweep of any worker re-queues them", n)
    except Exception as err:  # still exit: a wedged worker must not keep looking alive
        log.error(
            "could not put this worker's messages back (%s: %s); Redis hands them out again "
            "after the visibility timeout",
            type(err).__name__,
            err,
        )
    _exit_now()


def end_child(elapsed: float, items: int) -> None:
    """For a prefork child: its parent sees it die and re-queues the message it held
    (``task_reject_on_worker_lost``)."""
    _report(elapsed, items)
    _exit_now()
