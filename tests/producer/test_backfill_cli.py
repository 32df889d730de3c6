"""The `backfill` command end to end: real database, real Redis (db 15), a throwaway queue."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import typer
from sqlmodel import Session, func, select
from typer.testing import CliRunner, Result

from producer.backfill.cli import backfill
from shared.models import Ticket, TicketStatus
from tests.conftest import REDIS_TEST_URL, SetEnv
from tests.factories import make_ticket

SAMPLE = Path(__file__).parents[1] / "fixtures" / "banking77_sample.csv"

app = typer.Typer()
app.command("backfill")(backfill)


@app.callback()
def _root() -> None:
    """Keeps `backfill` a sub-command, as under the real `ticketflow` app."""


@pytest.fixture
def queue(db_url: str, tmp_path: Path, settings_env: SetEnv) -> Iterator[str]:
    """Point the command's settings at the test database and a unique Redis queue."""
    name = f"test.backfill.{uuid.uuid4().hex[:8]}"
    settings_env(
        database_url=db_url,
        redis_url=REDIS_TEST_URL,
        backfill_queue=name,
        data_dir=tmp_path / "state",
    )
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        yield name
    finally:
        for key in client.scan_iter(match=f"*{name}*"):
            client.delete(key)
        client.close()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["backfill", *args])


def queued(name: str) -> int:
    with redis.Redis.from_url(REDIS_TEST_URL) as client:
        return int(client.llen(name))


def stored(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(Ticket)).one()


def summary(result: Result) -> dict[str, int]:
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].replace(",", "").isdigit():
            counts[parts[0]] = int(parts[1].replace(",", ""))
    return counts


def test_import_twice_enqueues_once(queue: str, session: Session) -> None:
    first = invoke(str(SAMPLE), "--map", "body=text,category=category")
    assert first.exit_code == 0, first.output
    assert summary(first) == {
        "read": 200, "new": 200, "duplicate": 0, "resumed": 0, "invalid": 0, "enqueued": 200
    }  # fmt: skip
    assert queued(queue) == 200 and stored(session) == 200

    second = invoke(str(SAMPLE))
    assert second.exit_code == 0, second.output
    assert summary(second)["duplicate"] == 200 and summary(second)["enqueued"] == 0
    assert queued(queue) == 200 and stored(session) == 200


def test_dry_run_stores_and_enqueues_nothing(queue: str, session: Session) -> None:
    result = invoke(str(SAMPLE), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.stdout
    assert summary(result)["new"] == 200
    assert queued(queue) == 0 and stored(session) == 0


def test_invalid_rows_are_listed_with_line_numbers(
    queue: str, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"id": 1, "body": "ok"}\n{broken\n{"id": 3, "body": ""}\n')
    result = invoke(str(path), "--source", "legacy-crm")
    assert result.exit_code == 0, result.output
    assert "line 2: not valid JSON" in result.stderr
    assert "line 3: body is empty" in result.stderr
    assert summary(result)["invalid"] == 2 and summary(result)["enqueued"] == 1
    ticket = session.exec(select(Ticket)).one()
    assert (ticket.source, ticket.external_id) == ("legacy-crm", "1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "no such file"),
        ([str(SAMPLE), "--map", "body=message"], "unknown column 'message'"),
        ([str(SAMPLE), "--map", "text"], "is not FIELD=COLUMN"),
    ],
)
def test_unusable_input_fails_cleanly(queue: str, args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "args",
    [[], [str(SAMPLE), "--status", "triaged"], ["--map", "body=text", "--status", "triaged"]],
)
def test_conflicting_options_are_usage_errors(queue: str, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2


def test_invalid_setting_exits_2_naming_it(queue: str, settings_env: SetEnv) -> None:
    settings_env(max_body_chars=3)
    result = invoke(str(SAMPLE))
    assert result.exit_code == 2
    assert "TICKETFLOW_MAX_BODY_CHARS" in result.stderr and "Traceback" not in result.output


def test_unreachable_queue_keeps_tickets_for_the_rerun(
    queue: str, session: Session, settings_env: SetEnv
) -> None:
    settings_env(redis_url="redis://127.0.0.1:1/15")
    down = invoke(str(SAMPLE))
    assert down.exit_code == 1
    assert "run the same command again" in down.stderr
    assert summary(down)["enqueued"] == 0
    assert stored(session) > 0

    settings_env(redis_url=REDIS_TEST_URL)
    up = invoke(str(SAMPLE))
    assert up.exit_code == 0, up.output
    assert summary(up)["enqueued"] == 200 and queued(queue) == 200


def test_reprocess_by_status_is_resumable(queue: str, session: Session, tmp_path: Path) -> None:
    long_ago = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(3):
        make_ticket(session, status=TicketStatus.triaged, enqueued_at=long_ago)
    make_ticket(session, status=TicketStatus.approved, enqueued_at=long_ago)

    dry = invoke("--status", "triaged", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert summary(dry)["matched"] == 3 and queued(queue) == 0

    result = invoke("--status", "triaged", "--since", "2000-01-01", "--rate", "100")
    assert result.exit_code == 0, result.output
    assert summary(result)["enqueued"] == 3 and queued(queue) == 3
    assert not list((tmp_path / "state" / "backfill").glob("*.json"))  # run finished

    bad = invoke("--since", "last week")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_registered_on_the_root_cli() -> None:
    from ticketflow.cli import app as root

    names = {c.name for c in root.registered_commands}
    assert "backfill" in names


def test_backfill_imports_no_model_code() -> None:
    code = (
        "import sys, producer.backfill.cli; "
        "print([m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'worker')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
