"""An in-process micro-batcher: many task threads, one batched forward pass.

Each Celery task thread submits its ticket and blocks on a future; one batching thread collects
up to ``max_size`` items while they keep coming (each arrival gives the next ``max_wait_s``
more, ``max_collect_s`` after the first at most), runs them together and hands each thread its
own result. A fixed window after the first item split a burst of tickets into a small batch
and the rest (5 + 11 of 16 in the pipeline bench), and the rest then waited for the small one:
on a draft that takes a minute, a second more of collecting is cheap. Every message is still
acknowledged by its own task, so batching never weakens per-ticket delivery guarantees. If a
batch raises, its items are re-run one by one so only the ticket that is really at fault fails.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)

_STOP = object()


class MicroBatcher(Generic[T, R]):
    def __init__(
        self,
        fn: Callable[[list[T]], list[R]],
        max_size: int,
        max_wait_s: float,
        name: str = "batcher",
        history: int = 1000,
        max_collect_s: float | None = None,
    ) -> None:
        self.fn = fn
        self.max_size = max_size
        self.max_wait_s = max_wait_s  # the longest gap between two arrivals of one batch
        # The longest a batch collects in all (default: twenty gaps).
        self.max_collect_s = max(
            max_wait_s, 20 * max_wait_s if max_collect_s is None else max_collect_s
        )
        # Sizes of the latest ``history`` batches (tests and benchmarks); bounded, as a worker
        # runs for weeks.
        self.batch_sizes: deque[int] = deque(maxlen=history)
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T, timeout: float | None = None) -> R:
        future: Future[R] = Future()
        self._queue.put((item, future))
        return future.result(timeout=timeout)

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def _collect(self, first: object) -> tuple[list[tuple[T, Future[R]]], bool]:
        batch = [first]
        start = time.monotonic()
        deadline = start + self.max_wait_s
        while len(batch) < self.max_size:
            remaining = deadline - time.monotonic()
            try:
                nxt = (
                    self._queue.get(timeout=max(remaining, 0))
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if nxt is _STOP:
                return batch, True  # type: ignore[return-value]
            batch.append(nxt)
            deadline = min(time.monotonic() + self.max_wait_s, start + self.max_collect_s)
        return batch, False  # type: ignore[return-value]

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = self._collect(first)
            self._run(batch)
            if stop:
                return

    def _run(self, batch: list[tuple[T, Future[R]]]) -> None:
        items = [item for item, _ in batch]
        self.batch_sizes.append(len(items))
        try:
            results = self.fn(items)
            if len(results) != len(items):
                raise RuntimeError(f"batch function returned {len(results)} for {len(items)}")
        except Exception as err:  # isolate the failing item(s)
            if len(batch) == 1:
                batch[0][1].set_exception(err)
                return
            log.warning("batch of %d failed (%s); retrying items one by one", len(batch), err)
            for pair in batch:
                self._run([pair])
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
