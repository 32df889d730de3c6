"""A worker started while PostgreSQL is unreachable waits, says why, and serves once it is back.

The database is "down" because nothing listens on the port the worker is given; "back" is a
TCP forwarder from that port to the real PostgreSQL, started by the test later.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import REDIS_TEST_URL
from ticketflow.processes import child_env, free_port, start_worker, wait_until, worker_ready

pytestmark = pytest.mark.integration


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            s.close()


class Forwarder:
    """Accepts on ``port`` and relays each connection to ``target``."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.target = target
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def pg_migrated(_pg_migrated: str) -> Iterator[str]:
    yield _pg_migrated


def test_worker_waits_for_the_database_then_serves(pg_migrated: str, tmp_path: Path) -> None:
    real = make_url(pg_migrated)
    port = free_port()
    behind = real.set(port=port).render_as_string(hide_password=False)
    env = child_env(
        {
            "TICKETFLOW_DATABASE_URL": behind,
            "TICKETFLOW_REDIS_URL": REDIS_TEST_URL,
            "TICKETFLOW_ENGINE": "fake",
            "TICKETFLOW_DATA_DIR": str(tmp_path / "data"),
            "TICKETFLOW_QUEUE": f"wait-db-{port}",
        }
    )
    worker = start_worker(env, tmp_path / "logs", gpu="cpu")
    forwarder = None
    try:
        wait_until(
            lambda: "database not reachable at start" in worker.log_text(),
            60,
            "the worker to say why it waits",
            worker,
        )
        assert worker.alive() and not worker_ready(worker)
        forwarder = Forwarder(port, (real.host or "127.0.0.1", real.port or 5432))
        wait_until(lambda: worker_ready(worker), 90, "the worker to become ready", worker)
        assert "retrying in" in worker.log_text()
    finally:
        worker.stop()
        if forwarder is not None:
            forwarder.close()
