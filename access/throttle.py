"""Failed logins and failed keys, counted per client address (and per username for logins):
past ``TICKETFLOW_AUTH_FAILURES_PER_MINUTE`` in a minute the next try is a 429 with
Retry-After, before any password is checked.

Counts live in Redis through the ``limits`` library (fixed one-minute windows), so every API
process shares them; when Redis cannot be reached they fall back to this process's memory for
a while instead of letting guesses through unthrottled or failing logins.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field

from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from shared.config import Settings

log = logging.getLogger(__name__)
FALLBACK_S = 30.0  # after a Redis error, stay on memory this long before trying Redis again


@dataclass
class FailureThrottle:
    """Counts failures per key (``"ip:1.2.3.4"``, ``"user:ana"``) in one-minute windows."""

    per_minute: int
    storage: Storage | None = None  # None: memory only
    _memory: FixedWindowRateLimiter = field(init=False)
    _shared: FixedWindowRateLimiter | None = field(init=False)
    _down_until: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._item = RateLimitItemPerMinute(self.per_minute)
        self._memory = FixedWindowRateLimiter(MemoryStorage())
        self._shared = FixedWindowRateLimiter(self.storage) if self.storage else None

    @classmethod
    def from_settings(cls, settings: Settings) -> FailureThrottle:
        """Redis at ``TICKETFLOW_REDIS_URL`` (memory for the in-process ``memory://`` broker)."""
        if not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
            return cls(settings.auth_failures_per_minute)
        storage = RedisStorage(
            settings.redis_url,
            wrap_exceptions=True,
            key_prefix="ticketflow:auth-failures",
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
        )
        return cls(settings.auth_failures_per_minute, storage)

    def _limiter(self) -> FixedWindowRateLimiter:
        if self._shared is not None and time.monotonic() >= self._down_until:
            return self._shared
        return self._memory

    def _run(self, op: str, key: str) -> object:
        limiter = self._limiter()
        try:
            return getattr(limiter, op)(self._item, key)
        except StorageError as err:
            with self._lock:
                if time.monotonic() >= self._down_until:
                    log.warning(
                        "auth throttle: Redis unreachable (%s); counting in memory for %.0f s",
                        type(err.storage_error).__name__,
                        FALLBACK_S,
                    )
                self._down_until = time.monotonic() + FALLBACK_S
            return getattr(self._memory, op)(self._item, key)

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until the first of ``keys`` may try again; None when none is blocked."""
        worst: float | None = None
        for key in keys:
            if not self._run("test", key):
                stats = self._run("get_window_stats", key)
                wait = max(1.0, stats.reset_time - time.time())  # type: ignore[attr-defined]
                worst = wait if worst is None else max(worst, wait)
        return None if worst is None else math.ceil(worst)

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._run("hit", key)
