"""The worker's two triage stages: the next tickets are classified while drafts generate, and
with a streaming draft queue each ticket leaves when its own draft is done."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import pytest

from worker.drafting.prompting import TicketView
from worker.engine.base import ChatMessages
from worker.engine.fake_engine import FAIL_MARKER, FakeEngine
from worker.pipeline.stages import TriageStages, batched_drafts
from worker.pipeline.triage import TriageJob, finish, prepare_batch, run_batch


class GatedEngine(FakeEngine):
    """Drafting waits for ``gate``: a generation still running."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.drafting = threading.Event()
        self.draft_batches: list[int] = []

    def draft(self, chats: Sequence[ChatMessages]) -> list[str]:
        self.drafting.set()
        assert self.gate.wait(30)
        self.draft_batches.append(len(chats))
        return super().draft(chats)


def job(i: int, text: str = "my parcel is late") -> TriageJob:
    return TriageJob(i, TicketView(subject=f"ticket {i}", body=text))


def stages_for(engine: FakeEngine, drafts: object = None, size: int = 4) -> TriageStages:
    return TriageStages(
        partial(prepare_batch, engine),
        drafts or batched_drafts(engine.draft, size, 0.05),  # type: ignore[arg-type]
        partial(finish, aids=None),
        size,
        0.05,
    )


def wait_until(cond: object, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


def test_next_tickets_are_classified_while_drafts_generate() -> None:
    engine = GatedEngine()
    stages = stages_for(engine)
    with ThreadPoolExecutor(8) as pool:
        first = [pool.submit(stages.submit, job(i)) for i in range(4)]
        assert engine.drafting.wait(10)
        classified = sum(engine.batches)
        second = [pool.submit(stages.submit, job(i)) for i in range(4, 8)]
        # Generation of the first four is still running; the next four get classified anyway.
        wait_until(lambda: sum(engine.batches) == classified + 4)
        assert not any(f.done() for f in first + second)
        engine.gate.set()
        outs = [f.result(timeout=30) for f in first + second]
    assert [o.labels.category.name for o in outs] == ["shipping_delivery"] * 8
    # The second four waited for the first generation and then drafted together.
    assert engine.draft_batches[0] == 4 and sum(engine.draft_batches) == 8
    assert all(o.draft for o in outs)
    stages.close()


def test_same_outputs_as_one_batch_call() -> None:
    engine = FakeEngine()
    jobs = [job(i, t) for i, t in enumerate(["refund please", "I was charged twice!"])]
    stages = stages_for(engine)
    with ThreadPoolExecutor(2) as pool:
        staged = list(pool.map(stages.submit, jobs))
    whole = run_batch(FakeEngine(), jobs)
    assert [o.draft for o in staged] == [o.draft for o in whole]
    assert [o.labels for o in staged] == [o.labels for o in whole]
    assert [o.prompt for o in staged] == [o.prompt for o in whole]
    stages.close()


class HeldStream:
    """A streaming draft queue whose drafts finish when the test says so, per ticket."""

    def __init__(self) -> None:
        self.waiting: dict[str, Future[str]] = {}
        self.lock = threading.Lock()

    def submit(self, chat: ChatMessages, timeout: float | None = None) -> str:
        subject = chat[-2]["content"] if chat[-1]["role"] == "assistant" else chat[-1]["content"]
        key = next(w for w in subject.split() if w.startswith("#"))
        future: Future[str] = Future()
        with self.lock:
            self.waiting[key] = future
        return future.result(timeout=timeout or 30)

    def release(self, key: str, text: str) -> None:
        wait_until(lambda: key in self.waiting)
        self.waiting[key].set_result(text)

    def close(self) -> None:
        pass


def test_with_a_stream_each_ticket_leaves_when_its_own_draft_is_done() -> None:
    stream = HeldStream()
    stages = stages_for(FakeEngine(), stream)
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(stages.submit, job(1, "ticket #slow parcel"))
        fast = pool.submit(stages.submit, job(2, "ticket #fast parcel"))
        stream.release("#fast", "Fast answer.")
        assert "Fast answer." in fast.result(timeout=10).draft
        assert not slow.done()  # a static batch would have held the fast one back
        stream.release("#slow", "Slow answer.")
        assert "Slow answer." in slow.result(timeout=10).draft
    stages.close()


def test_a_failing_ticket_fails_alone_in_the_first_stage() -> None:
    stages = stages_for(FakeEngine())
    with ThreadPoolExecutor(3) as pool:
        bad = pool.submit(stages.submit, job(1, FAIL_MARKER))
        good = [pool.submit(stages.submit, job(i)) for i in (2, 3)]
        with pytest.raises(ValueError, match="asked to fail"):
            bad.result(timeout=10)
        assert all(g.result(timeout=10).draft for g in good)
    stages.close()
