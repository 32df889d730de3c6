"""The review routes are served by the same API app: reuse its test client fixtures."""

from tests.producer.conftest import client, fake_redis, publisher

__all__ = ["client", "fake_redis", "publisher"]
