"""The deployment files stay consistent with the code: the compose file `ticketflow compose`
writes (for 1, 2 and 8 GPUs: against the compose-spec schema, and resolved by Docker Compose
v2 itself, `docker compose config`, from scripts/install-compose.sh), the Prometheus config and
alert rules (promtool), the dashboard."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from shared.config import ENV_PREFIX, Settings
from ticketflow.cli import app
from ticketflow.compose import render_compose

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _promtool(*args: str, cwd: Path = PROM) -> str:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: run scripts/install-prometheus.sh"
    r = subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_committed_compose_is_the_one_gpu_output() -> None:
    assert (ROOT / "docker-compose.yml").read_text() == render_compose(1)


@pytest.mark.parametrize("gpus", [1, 2, 8])
def test_compose_validates_for_any_gpu_count(gpus: int, tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    r = CliRunner().invoke(app, ["compose", "--gpus", str(gpus), "-o", str(path)])
    assert r.exit_code == 0, r.output
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    services = yaml.safe_load(path.read_text())["services"]
    workers = {n: s for n, s in services.items() if n.startswith("worker-gpu")}
    ids = [
        w["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"]
        for w in workers.values()
    ]
    assert sorted(int(i) for d in ids for i in d) == list(range(gpus))
    assert all(w["command"] == ["ticketflow", "worker", "--gpu", "0"] for w in workers.values())
    assert all("workers" in w["networks"]["default"]["aliases"] for w in workers.values())


DOCKER_COMPOSE = ROOT / ".tools" / "docker-compose"
SECRETS = {"TICKETFLOW_API_KEYS": "k1", "FLOWER_BASIC_AUTH": "ops:pw", "POSTGRES_PASSWORD": "pw"}


def _compose_config(
    compose: Path, env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    """`docker compose config` as an operator runs it: .env.example filled in, no daemon."""
    assert DOCKER_COMPOSE.exists(), "docker compose is missing: run scripts/install-compose.sh"
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={env[name]}" if name in env else line)
    env_file = compose.parent / "operator.env"
    env_file.write_text("\n".join(lines) + "\n")
    cmd = [str(DOCKER_COMPOSE), "--env-file", str(env_file), "-f", str(compose)]
    cmd += ["--project-directory", str(ROOT), *extra, "config", "--format", "json"]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}
    )


@pytest.mark.parametrize("gpus", [1, 2, 8])
def test_docker_compose_resolves_the_file_for_any_gpu_count(gpus: int, tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(render_compose(gpus))
    r = _compose_config(path, SECRETS, "--profile", "monitoring")
    assert r.returncode == 0, r.stderr
    services = json.loads(r.stdout)["services"]
    workers = sorted(n for n in services if n.startswith("worker-gpu"))
    assert len(workers) == gpus
    devices = [services[w]["deploy"]["resources"]["reservations"]["devices"][0] for w in workers]
    assert sorted(int(d["device_ids"][0]) for d in devices) == list(range(gpus))
    assert all("gpu" in d["capabilities"] for d in devices)
    assert {"api", "deliver", "prometheus"} <= set(services)
    api_env = services["api"]["environment"]
    assert api_env["TICKETFLOW_API_KEYS"] == "k1"
    assert all(p.get("host_ip") == "127.0.0.1" for p in services["api"].get("ports", []))


def test_docker_compose_refuses_to_run_without_the_required_secrets(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(render_compose(1))
    r = _compose_config(path, {**SECRETS, "TICKETFLOW_API_KEYS": ""})
    assert r.returncode != 0
    assert "TICKETFLOW_API_KEYS" in r.stderr and "in .env" in r.stderr


def test_compose_refuses_a_gpu_count_out_of_range() -> None:
    r = CliRunner().invoke(app, ["compose", "--gpus", "0"])
    assert r.exit_code == 2
    with pytest.raises(ValueError, match="between 1 and 64"):
        render_compose(65)


def test_published_ports_bind_loopback_by_default_and_flower_needs_a_login() -> None:
    for name, svc in COMPOSE["services"].items():
        for port in svc.get("ports", []):
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), (name, port)
    flower = COMPOSE["services"]["flower"]
    assert "FLOWER_BASIC_AUTH" in flower["environment"]
    assert ":?" in flower["environment"]["FLOWER_BASIC_AUTH"]  # compose refuses to start without


def test_hugging_face_cache_switch_and_models_mount() -> None:
    api = COMPOSE["services"]["api"]
    assert api["environment"]["HF_HOME"] == "/hf-cache"
    assert api["environment"]["HF_HUB_OFFLINE"] == "${HF_HUB_OFFLINE:-1}"
    assert "hf-cache:/hf-cache" in api["volumes"]
    assert "${MODELS_DIR:-./models}:/models:ro" in api["volumes"]
    start = COMPOSE["services"]["worker-gpu0"]["healthcheck"]["start_period"]
    assert start == "${WORKER_START_PERIOD:-600s}"


def test_env_example_names_every_variable_compose_reads() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, flags=re.M))
    assert used <= documented, used - documented


def test_every_ticketflow_command_in_compose_exists() -> None:
    runner = CliRunner()
    missing = set()
    for svc in COMPOSE["services"].values():
        cmd = svc.get("command") or []
        if cmd[:1] == ["ticketflow"]:
            sub = [a for a in cmd[1:] if not a.startswith("-")][:2]
            r = runner.invoke(app, [*sub[:1], "--help"] if sub[0] != "db" else [*sub, "--help"])
            if r.exit_code != 0:
                missing.add(sub[0])
    assert not missing, missing


def test_compose_env_vars_are_real_settings() -> None:
    fields = {f"{ENV_PREFIX}{n.upper()}" for n in Settings.model_fields}
    for svc in COMPOSE["services"].values():
        for var in svc.get("environment") or {}:
            if var.startswith(ENV_PREFIX):
                assert var in fields, var


def test_redis_keeps_messages() -> None:
    cmd = COMPOSE["services"]["redis"]["command"]
    assert "--appendonly" in cmd and "noeviction" in cmd
    assert (
        COMPOSE["services"]["api"]["depends_on"]["migrate"]["condition"]
        == "service_completed_successfully"
    )


def test_alert_rules_are_valid_and_fire_on_their_series() -> None:
    assert "SUCCESS: 7 rules found" in _promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in _promtool("test", "rules", "alerts.test.yml")


def test_every_alert_has_a_runbook_entry() -> None:
    ops = (ROOT / "docs" / "operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", ops, flags=re.M)
    }
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"][0]["rules"]
    for rule in rules:
        runbook = rule["annotations"]["runbook"]
        assert runbook == f"docs/operations.md#{rule['alert'].lower()}", runbook
        assert rule["alert"].lower() in anchors, rule["alert"]


def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    config = (PROM / "prometheus.yml").read_text()
    (tmp_path / "key").write_text("k")
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/api-key", str(tmp_path / "key"))
    )
    shutil.copy(PROM / "alerts.yml", tmp_path / "alerts.yml")
    assert "SUCCESS" in _promtool("check", "config", "prometheus.yml", cwd=tmp_path)


def _metric_names() -> set[str]:
    """Every series name the code can produce: the registered metrics (with their _total,
    _bucket... suffixes) and the gauges the API reads at scrape time."""
    import shared.metrics  # noqa: F401 - registers the metrics

    names = {"up", "ticketflow_scrape_error", "ticketflow_queue_depth"}
    names |= {"ticketflow_messages_unacked", "ticketflow_tickets"}
    names |= {"ticketflow_oldest_ticket_age_seconds"}
    return names | set(REGISTRY._names_to_collectors)


def test_dashboard_and_alerts_only_use_metrics_that_exist() -> None:
    dash: dict[str, Any] = json.loads(
        (ROOT / "deploy/grafana/ticketflow-dashboard.json").read_text()
    )
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"][0]["rules"]
    exprs += [r["expr"] for r in rules]
    known = _metric_names()
    for expr in exprs:
        for name in re.findall(r"\b(ticketflow_[a-z_]+|up)\b", expr):
            assert name in known, (name, expr)


def _kube_docs() -> list[dict[str, Any]]:
    kdir = ROOT / "deploy" / "kubernetes"
    kust = yaml.safe_load((kdir / "kustomization.yaml").read_text())
    docs = []
    for name in kust["resources"]:
        docs += [d for d in yaml.safe_load_all((kdir / name).read_text()) if d]
    return docs


def test_kubernetes_workers_take_one_gpu_each_and_settings_are_real() -> None:
    docs = _kube_docs()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Job", "ticketflow-migrate") in kinds and ("Service", "ticketflow-api") in kinds
    workers = [
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"].startswith("ticketflow-worker")
    ]
    assert workers
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    for w in workers:
        pod = w["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["command"] == ["ticketflow", "worker", "--gpu", "0"]
        assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert (
            w["spec"]["selector"]["matchLabels"].items()
            <= w["spec"]["template"]["metadata"]["labels"].items()
        )
        used = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
        assert used <= claims
    fields = {f"{ENV_PREFIX}{n.upper()}" for n in Settings.model_fields}
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    for var in config["data"]:
        assert not var.startswith(ENV_PREFIX) or var in fields, var
