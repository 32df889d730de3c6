"""The access tests use the API app of the producer tests (real SQLite and PostgreSQL)."""

from collections.abc import Callable, Iterator

import fakeredis
import pytest
from fastapi.testclient import TestClient

from access.throttle import FailureThrottle
from producer.api.app import create_app
from shared.config import Settings
from tests.helpers import RecordingPublisher
from tests.producer.conftest import client, fake_redis, publisher

__all__ = ["client", "fake_redis", "publisher"]

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(settings: Settings) -> Iterator[MakeClient]:
    """Another app on the same database, with settings overridden (``open_reads=True``...)
    and TestClient options (``base_url``, ``client`` address)."""
    opened: list[TestClient] = []

    def make(client_options: dict[str, object] | None = None, **overrides: object) -> TestClient:
        tuned = settings.model_copy(update=overrides)
        server = fakeredis.FakeServer()
        app = create_app(
            tuned,
            publisher=RecordingPublisher(),
            redis_client=lambda: fakeredis.FakeRedis(server=server),
            auth_throttle=FailureThrottle(tuned.auth_failures_per_minute),
        )
        c = TestClient(app, **(client_options or {}))  # type: ignore[arg-type]
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)
