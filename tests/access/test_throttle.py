"""The failure throttle on real Redis (shared by every API process) and without it."""

from __future__ import annotations

import uuid

from access.throttle import FailureThrottle
from shared.config import load_settings
from tests.conftest import REDIS_TEST_URL
from ticketflow.processes import free_port


def test_two_processes_share_counts_through_redis() -> None:
    settings = load_settings(redis_url=REDIS_TEST_URL, auth_failures_per_minute=3)
    one, other = FailureThrottle.from_settings(settings), FailureThrottle.from_settings(settings)
    key = f"ip:test-{uuid.uuid4().hex}"
    one.failed(key)
    other.failed(key)
    assert one.retry_after(key) is None
    one.failed(key)
    wait = other.retry_after(key)  # the third failure, counted by the other process
    assert wait is not None and 1 <= wait <= 60
    assert other.retry_after(f"ip:test-{uuid.uuid4().hex}") is None


def test_without_redis_failures_are_still_counted_in_memory() -> None:
    dead = load_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", auth_failures_per_minute=2)
    throttle = FailureThrottle.from_settings(dead)
    throttle.failed("ip:a")
    throttle.failed("ip:a")
    assert throttle.retry_after("ip:a") is not None  # throttled, not waved through
    assert throttle.retry_after("ip:b") is None
