"""Planted personal data never reaches a log line or a prompt, through database and Redis faults.

A real stack on private services: the API in-process (every log record captured, tracebacks
included), a `ticketflow worker` process (its whole log file), a private PostgreSQL database
and a private redis-server. The database faults are real server errors in the middle of a
statement (a trigger raises SQLSTATE 57P01, "terminating connection due to administrator
command", on the table we choose): exactly where SQLAlchemy used to print the statement's
parameters, i.e. the ticket body. The Redis fault is the server killed and started again. The
prompts the worker stored for the two tickets (the second one's carries the first as history)
are checked as well.
"""

from __future__ import annotations

import logging
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, col, create_engine, select

from producer.api.app import create_app
from shared.config import load_settings
from shared.db import make_engine, upgrade
from shared.models import Ticket, TriageResult
from tests.conftest import PG_ADMIN_URL
from ticketflow.processes import child_env, free_port, start_worker, wait_until, worker_ready

pytestmark = pytest.mark.integration
KEY = {"X-API-Key": "k"}
PLANTED = [
    "4111 1111 1111 1111",
    "078-05-1120",
    "DE89 3704 0044 0532 0130 00",
    "+1 415-555-2671",
    "ana.secret",  # the e-mail's local part: the address is both in the body and a field
    "Hunter2!xyz",
]
BODY = (
    "My card 4111 1111 1111 1111 was charged twice, SSN 078-05-1120, IBAN DE89 3704 0044 0532 "
    "0130 00, call +1 415-555-2671 or mail ana.secret@example.org; password is Hunter2!xyz"
)
CHAOS = """
CREATE TABLE chaos (what text PRIMARY KEY);
CREATE FUNCTION chaos_fail() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM chaos WHERE what = TG_TABLE_NAME) THEN
    RAISE EXCEPTION 'terminating connection due to administrator command'
      USING ERRCODE = '57P01';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER chaos_ticket BEFORE INSERT ON ticket
  FOR EACH ROW EXECUTE FUNCTION chaos_fail();
CREATE TRIGGER chaos_result BEFORE INSERT ON triage_result
  FOR EACH ROW EXECUTE FUNCTION chaos_fail();
"""


@pytest.fixture
def private_pg(tmp_path: Path) -> Iterator[str]:
    name = f"tf_logs_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(load_settings(database_url=url, data_dir=tmp_path))
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(CHAOS)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Capture(logging.Handler):
    """Every record of the process, formatted with its traceback, as a file handler would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _redis(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp)]
    server = subprocess.Popen(["redis-server", *args], stdout=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    wait_until(lambda: _pong(client), 10, "redis-server to start")
    return server


def _pong(client: object) -> bool:
    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except Exception:
        return False


def test_no_planted_value_in_any_log_line(private_pg: str, tmp_path: Path) -> None:
    port = free_port()
    values = {
        "database_url": private_pg,
        "redis_url": f"redis://127.0.0.1:{port}/0",
        "engine": "fake",
        "data_dir": str(tmp_path / "d"),
        "api_keys": "k",
        "log_level": "DEBUG",
        "relay_poll_s": "0.2",
        "relay_handoff_s": "0",
    }
    redis_server = _redis(port, tmp_path)
    worker = start_worker(
        child_env({f"TICKETFLOW_{k.upper()}": v for k, v in values.items()}),
        tmp_path / "logs",
        gpu="cpu",
    )
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    db = make_engine(private_pg)

    def chaos(*tables: str) -> None:
        with db.begin() as conn:
            conn.execute(text("DELETE FROM chaos"))
            for t in tables:
                conn.execute(text("INSERT INTO chaos VALUES (:t)"), {"t": t})

    def statuses() -> list[str]:
        with Session(db) as s:
            return [str(st) for st in s.exec(select(Ticket.status).order_by(col(Ticket.id)))]

    payload = {
        "subject": f"Card {PLANTED[0]}",
        "body": BODY,
        "customer_email": "ana.secret@example.org",
    }
    try:
        with TestClient(create_app(load_settings(**values))) as client:
            wait_until(lambda: worker_ready(worker), 120, "the worker", worker)
            # 1. The database fails the API's INSERT mid-statement: a 503, nothing logged.
            chaos("ticket")
            r = client.post("/tickets", json=payload, headers=KEY)
            assert r.status_code == 503, r.text
            # 2. It fails the worker's result INSERT: retried, then stored once the fault ends.
            chaos("triage_result")
            assert client.post("/tickets", json=payload, headers=KEY).status_code == 201
            wait_until(lambda: "database unavailable" in worker.log_text(), 60, "a retry", worker)
            chaos()
            wait_until(lambda: statuses() == ["triaged"], 60, "the ticket triaged", worker)
            # 3. Redis goes away: the ticket is stored, the relay waits, then sends it.
            redis_server.terminate()
            redis_server.wait(10)
            second = dict(payload, external_id="second")
            assert client.post("/tickets", json=second, headers=KEY).status_code == 201
            wait_until(
                lambda: any("relay paused" in ln or "Redis" in ln for ln in capture.lines),
                30,
                "the relay to notice Redis is gone",
            )
            redis_server = _redis(port, tmp_path)
            wait_until(lambda: statuses() == ["triaged"] * 2, 90, "both triaged", worker)
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
        worker.stop()
        redis_server.terminate()
        redis_server.wait(10)
        db.dispose()

    # What the model was given: both prompts stored, the second with the first as history.
    db = make_engine(private_pg)
    with Session(db) as s:
        prompts = [
            str(r.prompt) for r in s.exec(select(TriageResult).order_by(col(TriageResult.id)))
        ]
    db.dispose()
    assert len(prompts) == 2 and all("[CARD_1]" in p and "[IBAN_1]" in p for p in prompts)
    assert "<history>" in prompts[1] and prompts[1].count("[CARD_1]") > prompts[0].count("[CARD_1]")
    leaked = [(value, i) for i, p in enumerate(prompts) for value in PLANTED if value in p]
    assert not leaked, leaked
    lines = capture.lines + worker.log_text().splitlines()
    leaks = [(value, ln) for ln in lines for value in PLANTED if value in ln]
    assert not leaks, leaks[:3]
    # The faults really went through the paths that used to print parameters.
    assert any("SQL parameters hidden" in ln for ln in capture.lines)
    assert "SQL parameters hidden" in worker.log_text()
