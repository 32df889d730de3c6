"""The worker's triage as two stages, so tickets neither wait for each other nor for the GPU.

Stage one batches tickets through the small models (classify, retrieve, plan the draft) and
builds each prompt. Stage two drafts: each ticket hands its prompt to a ``DraftQueue`` and
blocks until *its* draft is back, then finishes on its own task thread. While one set of
drafts generates, the next tickets are already being classified, and with a streaming queue
(vLLM's engine, transformers' continuous-batching manager) a short draft returns when it is
done instead of when the longest draft of its batch is. Engines without one draft in static
micro-batches collected by a second ``MicroBatcher``, which fills while the previous batch
generates.

Every message is still acknowledged by its own task after its result is committed; a failure
in either stage reaches only the tickets it concerns (``MicroBatcher`` re-runs a failed batch
item by item; a streaming queue fails one request's future).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from shared import metrics
from worker.engine.base import ChatMessages
from worker.pipeline.batcher import MicroBatcher
from worker.pipeline.triage import PreparedTicket, TriageJob, TriageOutput


class DraftQueue(Protocol):
    """Takes one prompt at a time and returns its draft; batches behind the caller's back."""

    def submit(self, chat: ChatMessages, timeout: float | None = None) -> str: ...

    def close(self) -> None: ...


Finish = Callable[[PreparedTicket, str, int], TriageOutput]


class TriageStages:
    def __init__(
        self,
        prepare: Callable[[list[TriageJob]], list[PreparedTicket]],
        drafts: DraftQueue,
        finish: Finish,
        batch_size: int,
        max_wait_s: float,
    ) -> None:
        self.prepare: MicroBatcher[TriageJob, PreparedTicket] = MicroBatcher(
            prepare, batch_size, max_wait_s, name="prepare"
        )
        self.drafts = drafts
        self.finish = finish

    def submit(self, job: TriageJob) -> TriageOutput:
        prepared = self.prepare.submit(job)
        if prepared.canned is not None:
            return self.finish(prepared, prepared.canned, 0)
        t0 = time.perf_counter()
        draft = self.drafts.submit(prepared.chat)
        seconds = time.perf_counter() - t0
        metrics.record_drafts(1, seconds)
        return self.finish(prepared, draft, int(seconds * 1000))

    def close(self) -> None:
        """Stop taking work: no model call runs after this returns (the engine may close)."""
        self.prepare.close()
        self.drafts.close()


def batched_drafts(
    draft: Callable[[list[ChatMessages]], list[str]], batch_size: int, max_wait_s: float
) -> MicroBatcher[ChatMessages, str]:
    """Static batching: one ``draft`` call per micro-batch of prompts."""
    return MicroBatcher(draft, batch_size, max_wait_s, name="drafts")
