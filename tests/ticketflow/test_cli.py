"""The `ticketflow` command's edges: clear errors, exit codes, GPU pinning."""

import os
import subprocess
import sys

import pytest

from shared.errors import ConfigError
from worker.cli import pin_gpu


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ticketflow.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_help_lists_the_daily_commands() -> None:
    out = _cli("--help").stdout
    for cmd in ("demo", "api", "worker", "db", "requeue"):
        assert cmd in out


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    r = _cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"ticketflow {version('ticketflow')}"


@pytest.mark.parametrize("cmd", [["api"], ["worker", "--gpu", "cpu"], ["db", "upgrade"]])
def test_invalid_setting_fails_at_start_naming_the_variable(cmd: list[str]) -> None:
    r = _cli(*cmd, env={"TICKETFLOW_BATCH_SIZE": "-3"})
    assert r.returncode == 2
    assert "TICKETFLOW_BATCH_SIZE" in r.stderr and "Traceback" not in r.stderr


def test_bad_gpu_argument_is_refused() -> None:
    r = _cli("worker", "--gpu", "first")
    assert r.returncode == 2 and "--gpu must be" in r.stderr and "Traceback" not in r.stderr


def test_pin_gpu_sets_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert pin_gpu("3") == "cuda:3" and os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert pin_gpu("cpu") == "cpu" and os.environ["CUDA_VISIBLE_DEVICES"] == ""
    with pytest.raises(ConfigError):
        pin_gpu("-1")


def test_worker_pins_gpu_before_torch_is_imported() -> None:
    probe = (
        "import sys; from worker.cli import pin_gpu; "
        "assert 'torch' not in sys.modules; pin_gpu('0'); import torch; "
        "print(torch.cuda.device_count() <= 1)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "True"


def test_db_upgrade_creates_the_schema(tmp_path) -> None:
    r = _cli("db", "upgrade", env={"TICKETFLOW_DATA_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ticketflow.db").exists()
    from alembic.script import ScriptDirectory

    from shared.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert r.stdout.startswith(f"database at {head}:")  # the revision reached, not the one asked
    again = _cli("db", "upgrade", "base", env={"TICKETFLOW_DATA_DIR": str(tmp_path)})
    assert again.returncode == 0 and again.stdout.startswith(f"database at {head}:")


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["db", "upgrade", "nope"], {}, 2, "error: Can't locate revision"),
        (["db", "upgrade"], {"TICKETFLOW_DATABASE_URL": "postgresql+psycopg://u:pw@127.0.0.1:1/x"},
         1, "error: database 127.0.0.1:1/x"),
        (["requeue"], {"TICKETFLOW_REDIS_URL": "redis://:pw@127.0.0.1:1/0"}, 1,
         "error: no Redis at redis://:***@127.0.0.1:1/0"),
        (["db", "upgrade"], {"TICKETFLOW_DATABASE_URL": "mysql://bob:pw@db/x"}, 2,
         "TICKETFLOW_DATABASE_URL: Value error, must be a sqlite"),
        (["api"], {"TICKETFLOW_REDIS_URL": "nonsense://x"}, 2, "TICKETFLOW_REDIS_URL"),
    ],
)  # fmt: skip
def test_commands_fail_with_one_line(tmp_path, args, env, code, message) -> None:
    r = _cli(*args, env={"TICKETFLOW_DATA_DIR": str(tmp_path), **env})
    assert r.returncode == code, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr and ":pw@" not in r.stderr


def test_log_level_setting_is_case_insensitive(tmp_path) -> None:
    from shared.config import load_settings

    assert load_settings(log_level="warning", data_dir=tmp_path).log_level == "WARNING"


BROKEN_MODEL = {"TICKETFLOW_DRAFT_MODEL": "/nonexistent/draft-model", "TICKETFLOW_DEVICE": "cpu"}


def test_worker_whose_model_cannot_load_exits_instead_of_serving(tmp_path) -> None:
    r = _cli("worker", "--gpu", "cpu", env={**BROKEN_MODEL, "TICKETFLOW_DATA_DIR": str(tmp_path)})
    assert r.returncode == 2
    assert "error: cannot start the worker" in r.stderr and "/nonexistent/draft-model" in r.stderr
    assert "Traceback" not in r.stderr


def test_plain_celery_worker_whose_model_cannot_load_exits_too(tmp_path) -> None:
    """Celery swallows errors in start-up hooks: without an explicit exit it said 'ready'."""
    from tests.conftest import REDIS_TEST_URL

    r = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "shared.celery_app", "worker", "-P", "threads",
         "-Q", "never-used", "--without-gossip", "--without-mingle"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **BROKEN_MODEL, "TICKETFLOW_DATA_DIR": str(tmp_path),
             "TICKETFLOW_REDIS_URL": REDIS_TEST_URL},
    )  # fmt: skip
    assert r.returncode == 3, r.stdout + r.stderr
    assert "worker cannot start" in r.stderr and "ready" not in r.stdout + r.stderr


def test_worker_refuses_an_unknown_log_level() -> None:
    r = _cli("worker", "--gpu", "cpu", "--loglevel", "bogus")
    assert r.returncode == 2 and "--loglevel must be one of" in r.stderr


def test_api_workers_serve_from_several_processes(tmp_path) -> None:
    import time

    import httpx
    import psutil

    from ticketflow.processes import free_port

    port = free_port()
    env = {
        **os.environ,
        "TICKETFLOW_DATA_DIR": str(tmp_path),
        "TICKETFLOW_API_KEYS": "k",
        "TICKETFLOW_API_DOCS": "true",
        "TICKETFLOW_REQUEUE_INTERVAL_S": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketflow.cli", "api", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the API did not come up"
                time.sleep(0.3)
        assert r.status_code == 200
        assert len(psutil.Process(proc.pid).children(recursive=True)) >= 2
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.parametrize("celery_code", [0, 1])
def test_worker_exits_with_celerys_exit_code(
    monkeypatch: pytest.MonkeyPatch, celery_code: int
) -> None:
    # Celery stops a worker on an unrecoverable error with code 1; it must reach the shell so
    # that a restart-on-failure supervisor brings the worker back.
    from typer.testing import CliRunner

    import shared.celery_app
    import worker.edge.runtime
    from ticketflow.cli import app

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr(worker.edge.runtime, "start_runtime", lambda _settings: None)
    started: list[list[str]] = []

    def start(argv: list[str]) -> int:
        started.append(argv)
        return celery_code

    monkeypatch.setattr(shared.celery_app.app, "start", start)
    result = CliRunner().invoke(app, ["worker", "--gpu", "cpu"])
    assert result.exit_code == celery_code, result.output
    assert started and started[0][0] == "worker" and "--pool=threads" in started[0]
