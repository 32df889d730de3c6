"""A Redis restart under a worker that holds a message: the worker stays up and reconnects.

Before the guard in ``shared/redis_transport.py`` the worker died here with "Unrecoverable
error: AttributeError(...'hostname')" (kombu's second close of the broken connection).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from dispatch.publisher import CeleryPublisher
from shared.celery_app import create_celery_app
from shared.config import load_settings
from shared.db import make_engine, upgrade
from shared.models import Ticket, TicketStatus, utcnow
from ticketflow.processes import child_env, free_port, start_worker, wait_until, worker_ready

pytestmark = pytest.mark.integration


def _redis(port: int, data: Path, log: Path) -> subprocess.Popen[bytes]:
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"]
    return subprocess.Popen(["redis-server", *args, "--dir", str(data), "--logfile", str(log)])


def test_worker_survives_a_redis_restart_while_it_holds_a_message(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "redis"
    data.mkdir()
    redis_url = f"redis://127.0.0.1:{port}/0"
    db_url = f"sqlite:///{tmp_path / 'tickets.db'}"
    server = _redis(port, data, tmp_path / "redis.log")
    settings = load_settings(database_url=db_url, redis_url=redis_url, data_dir=tmp_path / "d")
    upgrade(settings)
    env = child_env(
        {
            "TICKETFLOW_DATABASE_URL": db_url,
            "TICKETFLOW_REDIS_URL": redis_url,
            "TICKETFLOW_ENGINE": "fake-stall",  # the draft never returns: the message stays held
            "TICKETFLOW_DATA_DIR": str(tmp_path / "d"),
        }
    )
    worker = start_worker(env, tmp_path / "logs", gpu="cpu")
    engine = make_engine(db_url)
    try:
        wait_until(lambda: worker_ready(worker), 90, "the worker to start", worker)
        with Session(engine) as s:
            ticket = Ticket(subject="slow", body="a ticket the model takes forever on")
            s.add(ticket)
            s.commit()
            s.refresh(ticket)
        assert ticket.id is not None
        CeleryPublisher(create_celery_app(settings)).send(ticket.id, 1, settings.queue, utcnow())

        def processing() -> bool:
            with Session(engine) as s:
                row = s.get(Ticket, ticket.id)
                return row is not None and row.status == TicketStatus.processing

        wait_until(processing, 60, "the worker to take the ticket", worker)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        time.sleep(2)
        server = _redis(port, data, tmp_path / "redis.log")
        wait_until(
            lambda: worker.log_text().count("Connected to") >= 2,
            60,
            "the worker to reconnect",
            worker,
        )
        time.sleep(3)  # an unrecoverable error would end the process by now
        log = worker.log_text()
        assert worker.alive(), log[-3000:]
        assert "Unrecoverable error" not in log, log[-3000:]
        assert "Restoring 1 unacknowledged message" in log  # handed back at once
    finally:
        worker.kill()
        server.kill()
        server.wait(10)
        engine.dispose()
