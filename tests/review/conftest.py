"""The review routes are served by the same API app: reuse its test client fixtures."""

from tests.producer.conftest import client, enqueuer, fake_redis

__all__ = ["client", "enqueuer", "fake_redis"]
