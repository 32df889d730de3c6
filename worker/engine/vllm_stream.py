"""Drafts that join vLLM's running batch one at a time and leave one at a time.

``LLM.generate`` takes a list and returns when the last of it is done, so a ticket would wait
for the longest draft of its batch and a ticket that arrives mid-batch for the whole batch.
This drives vLLM's ``LLMEngine`` directly instead, as ``LLM.generate`` does internally
(``add_request``, then ``step`` while requests are unfinished), from one thread that owns the
engine: task threads put prompts in an inbox, the thread adds them between steps (so a new
ticket joins within one decoding step) and resolves each ticket's future as soon as its
request finishes.

The draft time limit (``TICKETFLOW_DRAFT_MAX_SECONDS``) is honoured per request: a request
still running at its deadline is aborted and its ticket gets the text generated so far, as
static batches do with ``max_time``. Each ``step`` is timed by the stall watchdog.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from shared import metrics
from worker.engine.base import ChatMessages, Watch

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class _Running:
    future: Future[str]
    begun: str  # the reply's opening, already in the prompt
    deadline: float | None
    text: str = ""  # generated so far (only tracked when there is a deadline)


class VllmDraftStream:
    def __init__(
        self,
        engine: Any,
        sampling: Any,
        prompt_ids: Callable[[ChatMessages], list[int]],
        begun: Callable[[ChatMessages], str],
        watch: Watch,
        max_seconds: float | None = None,
    ) -> None:
        self._engine = engine  # vLLM's LLMEngine; touched by this stream's thread only
        self._sampling = sampling.clone()
        # Only finished requests come back, unless a deadline needs the text so far
        # (vLLM's RequestOutputKind, read off the params so this module imports no vLLM).
        kinds = type(sampling.output_kind)
        self._sampling.output_kind = kinds.CUMULATIVE if max_seconds else kinds.FINAL_ONLY
        self._prompt_ids = prompt_ids
        self._begun = begun
        self._watch = watch
        self.max_seconds = max_seconds
        self._inbox: queue.Queue[object] = queue.Queue()
        self._running: dict[str, _Running] = {}
        self._ids = itertools.count()
        self.steps = 0  # engine steps taken (tests: requests overlapped, not queued)
        self.most_running = 0  # the most requests one step carried
        self._thread = threading.Thread(target=self._loop, name="vllm-drafts", daemon=True)
        self._thread.start()

    def submit(self, chat: ChatMessages, timeout: float | None = None) -> str:
        future: Future[str] = Future()
        self._inbox.put((chat, future))
        return future.result(timeout=timeout)

    def close(self) -> None:
        self._inbox.put(_STOP)
        self._thread.join(timeout=30)

    def _add(self, item: tuple[ChatMessages, Future[str]]) -> None:
        chat, future = item
        request_id = f"ticketflow-{next(self._ids)}"
        try:  # a prompt vLLM refuses fails its own ticket, not the others
            self._engine.add_request(
                request_id, {"prompt_token_ids": self._prompt_ids(chat)}, self._sampling
            )
        except Exception as err:
            future.set_exception(err)
            return
        deadline = time.monotonic() + self.max_seconds if self.max_seconds else None
        self._running[request_id] = _Running(future, self._begun(chat), deadline)

    def _take_inbox(self) -> bool:
        """Add what has arrived (waiting for something when nothing runs); False on stop."""
        block = not self._running
        while True:
            try:
                item = self._inbox.get(block=block)
            except queue.Empty:
                return True
            if item is _STOP:
                return False
            self._add(item)  # type: ignore[arg-type]
            block = False

    def _loop(self) -> None:
        while self._take_inbox():
            if not self._running:
                continue  # every new prompt was refused
            self.most_running = max(self.most_running, len(self._running))
            try:
                with self._watch(len(self._running)):
                    outputs = self._engine.step()
            except Exception as err:  # the engine failed: every ticket in it gets the error
                log.error("vLLM step failed with %d drafts running: %s", len(self._running), err)
                self._abort(list(self._running))
                self._fail_all(err)
                continue
            self.steps += 1
            for out in outputs:
                running = self._running.get(out.request_id)
                if running is None:
                    continue
                completion = out.outputs[0]
                running.text = completion.text
                if out.finished:
                    del self._running[out.request_id]
                    metrics.record_generated_tokens(len(completion.token_ids))
                    running.future.set_result((running.begun + completion.text).strip())
            self._expire()
        self._abort(list(self._running))
        self._fail_all(RuntimeError("the worker is stopping; the draft was not finished"))

    def _expire(self) -> None:
        now = time.monotonic()
        late = [r for r, run in self._running.items() if run.deadline and now >= run.deadline]
        if not late:
            return
        self._abort(late)
        for request_id in late:
            running = self._running.pop(request_id)
            log.warning("draft stopped at the %.0f s time limit", self.max_seconds or 0)
            running.future.set_result((running.begun + running.text).strip())

    def _abort(self, request_ids: list[str]) -> None:
        if not request_ids:
            return
        try:
            self._engine.abort_request(request_ids)
        except Exception as err:  # a dead engine cannot abort; its requests are gone anyway
            log.warning("vLLM could not abort %d requests: %s", len(request_ids), err)

    def _fail_all(self, err: BaseException) -> None:
        for running in self._running.values():
            running.future.set_exception(err)
        self._running.clear()
