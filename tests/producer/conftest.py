from collections.abc import Iterator

import fakeredis
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from access.throttle import FailureThrottle
from producer.api.app import create_app
from shared.config import Settings
from shared.db import get_engine
from tests.factories import make_api_key
from tests.helpers import RecordingPublisher

# A scoped key with every scope (stored by the client fixture); INTAKE_KEY is the settings'
# TICKETFLOW_API_KEYS entry, which only submits tickets.
KEY = {"X-API-Key": "tf_0000alltest_all-scopes-key-for-tests"}
INTAKE_KEY = {"X-API-Key": "test-key"}


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
    with Session(get_engine(settings.resolved_database_url)) as session:
        make_api_key(session, KEY["X-API-Key"], ["intake", "read", "review", "admin"], "all")
    app = create_app(
        settings,
        publisher=publisher,
        redis_client=lambda: fakeredis.FakeRedis(server=fake_redis),
        auth_throttle=FailureThrottle(settings.auth_failures_per_minute),
    )
    with TestClient(app) as c:
        yield c
