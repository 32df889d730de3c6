import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from worker.pipeline.batcher import MicroBatcher


def _double(items: list[int]) -> list[int]:
    return [i * 2 for i in items]


def test_concurrent_submits_are_batched_and_each_gets_its_own_result() -> None:
    b = MicroBatcher(_double, max_size=8, max_wait_s=0.2)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(b.submit, range(32)))
    b.close()
    assert results == [i * 2 for i in range(32)]
    assert max(b.batch_sizes) > 1, "concurrent submits should share a batch"
    assert max(b.batch_sizes) <= 8
    assert sum(b.batch_sizes) == 32


def test_single_item_waits_at_most_max_wait() -> None:
    b = MicroBatcher(_double, max_size=8, max_wait_s=0.05)
    t0 = time.perf_counter()
    assert b.submit(21) == 42
    assert time.perf_counter() - t0 < 2
    b.close()


def test_a_failing_item_fails_alone() -> None:
    def fn(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("unlucky")
        return _double(items)

    b = MicroBatcher(fn, max_size=4, max_wait_s=0.2)
    gate = threading.Barrier(4)

    def submit(i: int) -> object:
        gate.wait()
        try:
            return b.submit(i)
        except ValueError as err:
            return err

    with ThreadPoolExecutor(4) as pool:
        out = list(pool.map(submit, [11, 12, 13, 14]))
    b.close()
    assert out[0] == 22 and out[1] == 24 and out[3] == 28
    assert isinstance(out[2], ValueError)


def test_wrong_result_count_is_an_error() -> None:
    b = MicroBatcher(lambda items: [], max_size=2, max_wait_s=0.01)
    with pytest.raises(RuntimeError, match="returned 0 for 1"):
        b.submit(1)
    b.close()


def test_batch_size_history_is_bounded() -> None:
    """A worker runs for weeks: the record of batch sizes must not grow with every batch."""
    b = MicroBatcher(_double, max_size=1, max_wait_s=0, history=5)
    assert [b.submit(i) for i in range(20)] == [i * 2 for i in range(20)]
    b.close()
    assert list(b.batch_sizes) == [1] * 5


def test_a_burst_arriving_in_steps_is_one_batch_while_each_gap_is_short() -> None:
    """Items 30 ms apart with a 200 ms gap allowed: one batch, though the burst takes longer
    than 200 ms (a fixed window after the first item would have split it)."""
    b = MicroBatcher(_double, max_size=16, max_wait_s=0.2)
    with ThreadPoolExecutor(10) as pool:
        futures = []
        for i in range(10):
            futures.append(pool.submit(b.submit, i))
            time.sleep(0.03)  # 300 ms of arrivals
        assert [f.result(5) for f in futures] == [i * 2 for i in range(10)]
    assert list(b.batch_sizes) == [10]
    b.close()


def test_collecting_stops_at_max_collect_even_while_items_keep_coming() -> None:
    b = MicroBatcher(_double, max_size=100, max_wait_s=0.2, max_collect_s=0.25)
    with ThreadPoolExecutor(12) as pool:
        futures = []
        for i in range(12):
            futures.append(pool.submit(b.submit, i))
            time.sleep(0.1)  # 1.2 s of arrivals, every gap shorter than 200 ms
        assert [f.result(5) for f in futures] == [i * 2 for i in range(12)]
    assert len(b.batch_sizes) >= 3 and sum(b.batch_sizes) == 12
    b.close()
