"""Drafts through one long-lived transformers continuous-batching manager.

``generate_batch`` (``worker.engine.generation``) builds a manager per call, so tickets of one
micro-batch still return together and a ticket arriving mid-call waits for the whole call. Here
the manager (``model.init_continuous_batching``) lives as long as the worker: each ticket adds
its request when its prompt is ready, and a reader thread hands each finished request to the
ticket waiting for it. The manager's paged cache is sized once, for ``capacity`` requests at
full length, instead of from free memory.

What the mode cannot honour (the repetition penalty, the time limit) is named at start by
``worker.engine.generation.unsupported``, as for ``generate_batch``. The manager generates on
its own thread, so the stall watchdog times each ticket's wait for its draft instead of each
model step.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from shared import metrics
from worker.engine.base import ChatMessages, Watch
from worker.engine.generation import GenerationParams, continuous_config, stop_ids, strip

log = logging.getLogger(__name__)

BLOCK = 256  # tokens per cache block (transformers' default page size)
POLL_S = 0.2


class ContinuousDraftStream:
    def __init__(
        self,
        model: Any,
        prompt_ids: Callable[[ChatMessages], list[int]],
        decode: Callable[[list[int]], str],
        begun: Callable[[ChatMessages], str],
        params: GenerationParams,
        pad_id: int,
        capacity: int,
        max_input_tokens: int,
        watch: Watch,
    ) -> None:
        from transformers import ContinuousBatchingConfig

        self._prompt_ids = prompt_ids
        self._decode = decode
        self._begun = begun
        self._watch = watch
        self._params = params
        self._stop = stop_ids(model, pad_id, params)
        per_request = -(-(max_input_tokens + params.max_new_tokens) // BLOCK)
        self._manager = model.init_continuous_batching(
            generation_config=continuous_config(model, params, pad_id),
            continuous_batching_config=ContinuousBatchingConfig(
                num_blocks=capacity * per_request + 1,
                max_batch_tokens=min(max_input_tokens + capacity, 4096),
                max_requests_per_batch=capacity,
            ),
        )
        self._manager.start()
        self._waiting: dict[str, tuple[Future[str], str]] = {}  # id -> (future, reply begun)
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="cb-drafts", daemon=True)
        self._reader.start()

    def submit(self, chat: ChatMessages, timeout: float | None = None) -> str:
        request_id = f"ticketflow-{next(self._ids)}"
        future: Future[str] = Future()
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the worker is stopping; the draft was not started")
            self._waiting[request_id] = (future, self._begun(chat))
        added = self._manager.add_request(
            self._prompt_ids(chat),
            request_id=request_id,
            max_new_tokens=self._params.max_new_tokens,
        )
        if added is None:  # the manager refused it (stopping, or failed): say so, drop nothing
            self._settle(request_id, RuntimeError("continuous batching refused the request"))
        with self._watch(1):
            return future.result(timeout=timeout)

    def close(self) -> None:
        self._closed.set()
        self._manager.stop(block=True, timeout=30)
        self._reader.join(timeout=10)
        self._fail_all(RuntimeError("the worker is stopping; the draft was not finished"))

    def _read(self) -> None:
        while not self._closed.is_set():
            result = self._manager.get_result(timeout=POLL_S)
            if result is not None:
                self._deliver(result)
            elif not self._manager.is_running():
                fatal = self._manager.background_thread_status.fatal_error
                self._fail_all(RuntimeError(f"continuous batching stopped: {fatal}"))
                return

    def _deliver(self, result: Any) -> None:
        error = getattr(result, "error", None)
        if error:
            self._settle(result.request_id, RuntimeError(f"continuous batching failed: {error}"))
            return
        ids = strip(list(result.generated_tokens), self._stop)
        metrics.record_generated_tokens(len(ids))
        self._settle(result.request_id, self._decode(ids))

    def _settle(self, request_id: str, outcome: str | BaseException) -> None:
        with self._lock:
            waiting = self._waiting.pop(request_id, None)
        if waiting is None:
            return
        future, begun = waiting
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result((begun + outcome).strip())

    def _fail_all(self, err: BaseException) -> None:
        with self._lock:
            waiting = list(self._waiting.values())
            self._waiting.clear()
        for future, _ in waiting:
            future.set_exception(err)
