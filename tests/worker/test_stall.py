"""The stall watchdog's exit path; a real wedged worker is in tests/integration."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import fakeredis
import pytest

from shared.config import Settings
from worker.edge import leases, runtime, stall
from worker.engine.base import ChatMessages
from worker.engine.fake_engine import FakeEngine


def _consumer(client: fakeredis.FakeRedis) -> SimpleNamespace:
    channel = SimpleNamespace(client=client, unacked_index_key="unacked_index")
    return SimpleNamespace(task_consumer=SimpleNamespace(channel=channel))


def _request(tag: str) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(delivery_tag=tag))


def test_hand_back_marks_only_this_workers_messages_as_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = fakeredis.FakeRedis()
    r.zadd("unacked_index", {"mine-1": 1000.0, "mine-2": 1001.0, "other-worker": 1002.0})
    held = [_request("mine-1"), _request("mine-2"), _request("acked-meanwhile")]
    monkeypatch.setattr(leases.state, "reserved_requests", held)
    monkeypatch.setattr(stall, "_consumer", _consumer(r))
    assert stall.hand_back_messages() == 3
    scores = dict(r.zrange("unacked_index", 0, -1, withscores=True))
    assert scores == {b"mine-1": 0.0, b"mine-2": 0.0, b"other-worker": 1002.0}


def test_a_stalled_worker_exits_even_when_it_cannot_hand_messages_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    exits: list[int] = []
    monkeypatch.setattr(stall.os, "_exit", exits.append)
    monkeypatch.setattr(stall, "_consumer", None)
    with caplog.at_level(logging.INFO, logger="worker.edge.stall"):
        stall.end_worker(612.0, 8)
    assert exits == [stall.EXIT_STALLED]
    assert "8 text(s) has not returned after 612s" in caplog.text
    assert "after the visibility timeout" in caplog.text


def _wait_for(pred: Callable[[], object], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_watchdog_reports_each_stuck_model_call_once_and_quick_ones_never() -> None:
    reports: list[tuple[float, int]] = []
    release = threading.Event()

    class Wedging(FakeEngine):
        def draft(self, chats: Sequence[ChatMessages]) -> list[str]:
            release.wait(10)
            return super().draft(chats)

    watchdog = stall.StallWatchdog(0.2, lambda s, n: reports.append((s, n)))
    engine = stall.WatchedEngine(Wedging(), watchdog)
    for _ in range(5):  # many quick calls, one second in all: none reported
        engine.embed(["a", "b"])
        time.sleep(0.2)
    assert reports == []
    chat = [{"role": "user", "content": "where is my parcel?"}]
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(engine.draft, [chat, chat, chat])
        _wait_for(lambda: reports)
        time.sleep(0.6)  # more watchdog rounds: still one report for this call
        release.set()
        assert len(pending.result(5)) == 3
    watchdog.close()
    assert len(reports) == 1
    elapsed, texts = reports[0]
    assert elapsed >= 0.2 and texts == 3


def test_a_warm_up_that_never_returns_is_reported_too(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    reports: list[tuple[float, int]] = []

    class WedgedAtStart(FakeEngine):
        def warm_up(self) -> None:
            release.wait(10)

    def on_stall(elapsed: float, texts: int) -> None:
        reports.append((elapsed, texts))
        release.set()  # stands in for the exit, which would end the hang

    monkeypatch.setattr(runtime, "build_engine", lambda _s: WedgedAtStart())
    quick = settings.model_copy(update={"model_stall_s": 0.3, "draft_max_seconds": 0.1})
    runtime.stop_runtime()
    try:
        rt = runtime.start_runtime(quick, on_stall)
        assert isinstance(rt.engine, stall.WatchedEngine)
    finally:
        runtime.stop_runtime()
    assert len(reports) == 1 and reports[0][0] >= 0.3


def test_stopping_the_runtime_closes_the_engine_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vLLM's engine core is a child process: without a close the worker could not exit."""
    closed: list[bool] = []

    class WithProcess(FakeEngine):
        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(runtime, "build_engine", lambda _s: WithProcess())
    runtime.stop_runtime()
    runtime.start_runtime(settings)
    assert closed == []
    runtime.stop_runtime()
    runtime.stop_runtime()  # a second stop finds nothing to close
    assert closed == [True]
    # An engine without a close (the fake, the transformers drafter's model) is fine too.
    monkeypatch.setattr(runtime, "build_engine", lambda _s: FakeEngine())
    runtime.start_runtime(settings)
    runtime.stop_runtime()
