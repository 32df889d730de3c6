from collections.abc import Iterator

import fakeredis
import pytest
from fastapi.testclient import TestClient

from producer.api.app import create_app
from shared.config import Settings
from tests.helpers import RecordingPublisher

KEY = {"X-API-Key": "test-key"}


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def fake_redis() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def client(
    settings: Settings, publisher: RecordingPublisher, fake_redis: fakeredis.FakeServer
) -> Iterator[TestClient]:
    app = create_app(
        settings, publisher=publisher, redis_client=lambda: fakeredis.FakeRedis(server=fake_redis)
    )
    with TestClient(app) as c:
        yield c
