"""A worker started while Redis is down waits, says why, and serves once Redis is up.

Also end to end for the dispatch loops a worker runs: the ticket below is only stored, never
published by the test, so the worker's own relay has to send it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from shared.config import load_settings
from shared.db import make_engine, upgrade
from shared.models import Ticket, TicketStatus
from tests.factories import make_ticket
from ticketflow.processes import child_env, free_port, start_worker, wait_until, worker_ready

pytestmark = pytest.mark.integration


def test_worker_waits_for_redis_then_relays_and_triages(tmp_path: Path) -> None:
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    db_url = f"sqlite:///{tmp_path / 'tickets.db'}"
    upgrade(load_settings(database_url=db_url, redis_url=redis_url, data_dir=tmp_path / "d"))
    env = child_env(
        {
            "TICKETFLOW_DATABASE_URL": db_url,
            "TICKETFLOW_REDIS_URL": redis_url,
            "TICKETFLOW_ENGINE": "fake",
            "TICKETFLOW_DATA_DIR": str(tmp_path / "d"),
        }
    )
    worker = start_worker(env, tmp_path / "logs", gpu="cpu")
    engine = make_engine(db_url)
    server: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: "Trying again" in worker.log_text(), 90, "a retry notice", worker)
        time.sleep(3)
        assert worker.alive() and not worker_ready(worker)
        assert f"127.0.0.1:{port}" in worker.log_text()  # says what it waits for
        with Session(engine) as s:
            ticket = make_ticket(s, body="My card was declined twice today.")
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
        server = subprocess.Popen(["redis-server", *args], stdout=subprocess.DEVNULL)
        wait_until(lambda: worker_ready(worker), 90, "the worker to connect", worker)

        def triaged() -> bool:
            with Session(engine) as s:
                row = s.get(Ticket, ticket.id)
                return row is not None and row.status == TicketStatus.triaged

        wait_until(triaged, 60, "the worker's relay to send the stored ticket", worker)
        assert worker.alive()
    finally:
        worker.stop()
        if server is not None:
            server.terminate()
            server.wait(10)
        engine.dispose()
