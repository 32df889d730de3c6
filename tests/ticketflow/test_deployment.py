"""docker-compose.yml must stay consistent with the CLI and the settings (no Docker engine in CI,
so this checks the file itself)."""

from pathlib import Path

import yaml
from typer.testing import CliRunner

from shared.config import ENV_PREFIX, Settings
from ticketflow.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_ticketflow_command_in_compose_exists() -> None:
    runner = CliRunner()
    for name, svc in COMPOSE["services"].items():
        cmd = svc.get("command") or []
        if cmd[:1] == ["ticketflow"]:
            sub = [a for a in cmd[1:] if not a.startswith("-")][:2]
            r = runner.invoke(app, [*sub[:1], "--help"] if sub[0] != "db" else [*sub, "--help"])
            assert r.exit_code == 0, (name, cmd, r.output)


def test_compose_env_vars_are_real_settings() -> None:
    fields = {f"{ENV_PREFIX}{n.upper()}" for n in Settings.model_fields}
    for svc in COMPOSE["services"].values():
        for var in svc.get("environment") or {}:
            if var.startswith(ENV_PREFIX):
                assert var in fields, var


def test_one_worker_per_gpu_pinned_by_device_ids() -> None:
    workers = {n: s for n, s in COMPOSE["services"].items() if n.startswith("worker-gpu")}
    assert len(workers) >= 2
    ids = [
        s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"]
        for s in workers.values()
    ]
    assert sorted(i for d in ids for i in d) == [str(n) for n in range(len(workers))]
    assert all(s["command"] == ["ticketflow", "worker", "--gpu", "0"] for s in workers.values())


def test_redis_keeps_messages() -> None:
    cmd = COMPOSE["services"]["redis"]["command"]
    assert "--appendonly" in cmd and "noeviction" in cmd
    assert (
        COMPOSE["services"]["api"]["depends_on"]["migrate"]["condition"]
        == "service_completed_successfully"
    )
