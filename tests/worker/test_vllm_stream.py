"""The vLLM draft stream on a stand-in for vLLM's ``LLMEngine`` (add_request / step / abort).

vLLM is not installed in the project's venv; the real engine runs the same stream in
tests/worker/test_vllm_backend.py (``make bench-vllm``). The stand-in follows vLLM's contract:
``step`` advances every running request by one token and returns outputs (finished ones only
with FINAL_ONLY, every running one with CUMULATIVE), ``abort_request`` drops requests.
"""

from __future__ import annotations

import enum
import threading
import time
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from worker.engine.vllm_stream import VllmDraftStream


class Kind(enum.Enum):  # vLLM's RequestOutputKind
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


class Params(types.SimpleNamespace):
    def clone(self) -> Params:
        return Params(**vars(self))


class FakeLLMEngine:
    """A request's prompt ids are [length, ...]: it generates ``length`` tokens, then ends."""

    def __init__(self, step_s: float = 0.0) -> None:
        self.step_s = step_s
        self.running: dict[str, tuple[int, list[int], Any]] = {}
        self.aborted: list[str] = []
        self.fail_next_step = False
        self.sizes: list[int] = []  # requests in each step
        self.thread_ids: set[int] = set()

    def add_request(self, request_id: str, prompt: dict[str, list[int]], params: Any) -> str:
        self.thread_ids.add(threading.get_ident())
        ids = prompt["prompt_token_ids"]
        if not ids:
            raise ValueError("empty prompt")
        self.running[request_id] = (ids[0], [], params)
        return request_id

    def step(self) -> list[Any]:
        self.thread_ids.add(threading.get_ident())
        assert self.running, "vLLM's step blocks forever with nothing to run"
        if self.fail_next_step:
            self.fail_next_step = False
            raise RuntimeError("engine core died")
        time.sleep(self.step_s)
        self.sizes.append(len(self.running))
        outs = []
        for rid, (length, made, params) in list(self.running.items()):
            made.append(len(made))
            done = len(made) >= length
            if done:
                del self.running[rid]
            if done or params.output_kind is Kind.CUMULATIVE:
                text = "".join(f" t{t}" for t in made)
                completion = types.SimpleNamespace(text=text, token_ids=list(made))
                outs.append(
                    types.SimpleNamespace(request_id=rid, finished=done, outputs=[completion])
                )
        return outs

    def abort_request(self, request_ids: list[str]) -> None:
        self.aborted += request_ids
        for rid in request_ids:
            self.running.pop(rid, None)


@contextmanager
def no_watch(texts: int) -> Iterator[None]:
    yield


def chat(length: int, begun: str = "") -> list[dict[str, str]]:
    turns = [{"role": "user", "content": str(length)}]
    return turns + ([{"role": "assistant", "content": begun}] if begun else [])


def make(
    engine: FakeLLMEngine, max_seconds: float | None = None, watch: Any = no_watch
) -> VllmDraftStream:
    return VllmDraftStream(
        engine,
        Params(output_kind=Kind.CUMULATIVE, max_tokens=99),
        lambda c: [int(c[0]["content"])] if c[0]["content"] != "0" else [],
        lambda c: c[-1]["content"] if c[-1]["role"] == "assistant" else "",
        watch,
        max_seconds,
    )


def test_each_draft_returns_when_it_is_done_not_with_its_batch() -> None:
    engine = FakeLLMEngine(step_s=0.02)
    stream = make(engine)
    done_at: dict[int, float] = {}

    def draft(n: int) -> str:
        text = stream.submit(chat(n, "Hello,"), timeout=30)
        done_at[n] = time.monotonic()
        return text

    with ThreadPoolExecutor(3) as pool:
        long = pool.submit(draft, 60)
        short = pool.submit(draft, 3)
        time.sleep(0.3)  # the long draft is running: a new one joins it mid-flight
        late = pool.submit(draft, 5)
        assert short.result() == "Hello, t0 t1 t2"
        assert late.result() == "Hello, t0 t1 t2 t3 t4"
        assert long.result().endswith("t59")
    assert done_at[3] < done_at[5] < done_at[60]
    assert stream.most_running >= 2  # the late one ran beside the long one
    assert max(engine.sizes) >= 2 and stream.steps < 60 + 3 + 5  # steps were shared
    assert len(engine.thread_ids) == 1  # one thread drives the engine
    stream.close()


def test_only_finished_requests_come_back_without_a_time_limit() -> None:
    engine = FakeLLMEngine()
    stream = make(engine)
    assert stream._sampling.output_kind is Kind.FINAL_ONLY
    assert stream.submit(chat(2), timeout=10) == "t0 t1"
    stream.close()


def test_a_draft_past_its_time_limit_is_aborted_and_keeps_its_text_so_far() -> None:
    engine = FakeLLMEngine(step_s=0.05)
    stream = make(engine, max_seconds=0.3)
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(stream.submit, chat(10_000, "Hi,"), 30)
        quick = pool.submit(stream.submit, chat(2), 30)
        assert quick.result() == "t0 t1"
        text = slow.result()
    assert text.startswith("Hi, t0 t1") and "t9999" not in text
    assert len(engine.aborted) == 1 and not engine.running
    stream.close()


def test_a_prompt_the_engine_refuses_fails_only_its_own_ticket() -> None:
    engine = FakeLLMEngine(step_s=0.01)
    stream = make(engine)
    with ThreadPoolExecutor(2) as pool:
        good = pool.submit(stream.submit, chat(20), 30)
        bad = pool.submit(stream.submit, chat(0), 30)
        with pytest.raises(ValueError, match="empty prompt"):
            bad.result()
        assert good.result().endswith("t19")
    stream.close()


def test_a_failed_step_fails_the_drafts_in_it_and_the_stream_goes_on() -> None:
    engine = FakeLLMEngine(step_s=0.01)
    stream = make(engine)
    engine.fail_next_step = True
    with pytest.raises(RuntimeError, match="engine core died"):
        stream.submit(chat(5), timeout=10)
    assert engine.aborted  # its requests were dropped from the engine
    assert stream.submit(chat(2), timeout=10) == "t0 t1"
    stream.close()


def test_each_step_is_timed_by_the_watchdog() -> None:
    seen: list[int] = []

    @contextmanager
    def watch(texts: int) -> Iterator[None]:
        seen.append(texts)
        yield

    stream = make(FakeLLMEngine(), watch=watch)
    stream.submit(chat(3), timeout=10)
    stream.close()
    assert seen == [1, 1, 1]


def test_closing_fails_drafts_still_running() -> None:
    engine = FakeLLMEngine(step_s=0.02)
    stream = make(engine)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(stream.submit, chat(10_000), 30)
        time.sleep(0.2)
        stream.close()
        with pytest.raises(RuntimeError, match="stopping"):
            running.result()
    assert not engine.running
