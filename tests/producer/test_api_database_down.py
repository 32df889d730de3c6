"""The API with its database down or hung: a 503 a client can retry, never a 500 or a hang."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
from fastapi.testclient import TestClient

from access.throttle import FailureThrottle
from producer.api.app import create_app
from shared.config import load_settings
from tests.helpers import RecordingPublisher
from tests.producer.conftest import INTAKE_KEY, KEY


def _client(url: str, tmp_path: Path) -> TestClient:
    settings = load_settings(
        database_url=url, data_dir=tmp_path, api_keys="test-key", requeue_interval_s=0
    )
    server = fakeredis.FakeServer()
    app = create_app(
        settings,
        publisher=RecordingPublisher(),
        redis_client=lambda: fakeredis.FakeRedis(server=server),
        auth_throttle=FailureThrottle(10),
    )
    return TestClient(app)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a wedged database server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(sock.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_database_refusing_connections_is_a_503(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/test"
    with _client(url, tmp_path) as client:
        r = client.post("/tickets", json={"body": "My card is blocked"}, headers=INTAKE_KEY)
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert "database unavailable" in r.json()["detail"]
        # A scoped key is looked up in the database: unreachable is a 503 too, not a 401/500.
        assert client.get("/tickets", headers=KEY).status_code == 503
        assert client.get("/healthz").status_code == 503


def test_healthz_answers_when_the_database_never_does(tmp_path: Path, silent_server: int) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/test"
    answers: list[int] = []
    with _client(url, tmp_path) as client:
        probe = threading.Thread(target=lambda: answers.append(client.get("/healthz").status_code))
        probe.start()
        probe.join(timeout=60)  # a liveness bound, far above the 5 s connect timeout
    assert answers == [503]


def test_an_exhausted_pool_is_a_503_not_a_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    import shared.db

    monkeypatch.setattr(shared.db, "POOL_TIMEOUT_S", 0.2)
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    shared.db.upgrade(load_settings(database_url=url))
    engine = shared.db.get_engine(url)
    held = []
    try:
        with _client(url, tmp_path) as client:
            while True:  # every connection the pool will give, held by "other requests"
                try:
                    held.append(engine.connect())
                except PoolTimeout:
                    break
            r = client.post("/tickets", json={"body": "pool?"}, headers=INTAKE_KEY)
            assert r.status_code == 503 and r.headers["Retry-After"]
            for conn in held:
                conn.close()
            held.clear()
            assert (
                client.post("/tickets", json={"body": "pool!"}, headers=INTAKE_KEY).status_code
                == 201
            )
    finally:
        for conn in held:
            conn.close()
        engine.dispose()
