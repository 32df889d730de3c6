"""A real Prometheus (Debian's package, `scripts/install-prometheus.sh`) scrapes a running
`ticketflow api --workers 2` (behind its key, as a bearer token) and a running worker, and
answers a query over its HTTP API with what the two processes counted."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import yaml
from sqlmodel import Session

from shared.config import load_settings
from shared.db import make_engine, upgrade
from tests.conftest import REDIS_TEST_URL
from tests.factories import make_api_key
from ticketflow.processes import (
    Child,
    child_env,
    free_port,
    spawn,
    start_worker,
    ticketflow_cmd,
    wait_until,
    worker_ready,
)

pytestmark = pytest.mark.integration
KEY = "prom-key"  # TICKETFLOW_API_KEYS: intake and /metrics
READ_KEY = "tf_0000promread_a-read-key-for-the-scrape-test"
TICKETS = 4


def _up(url: str, **kw: object) -> bool:
    try:
        return httpx.get(url, timeout=1, **kw).status_code < 500  # type: ignore[arg-type]
    except httpx.HTTPError:
        return False


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[dict[str, object]]:
    run = uuid.uuid4().hex[:8]
    values = {
        "database_url": f"sqlite:///{tmp_path / 'tf.db'}",
        "redis_url": REDIS_TEST_URL,
        "queue": f"prom-{run}",
        "backfill_queue": f"prom-{run}.backfill",
        "data_dir": str(tmp_path),
        "engine": "fake",
        "api_keys": KEY,
        "relay_poll_s": "0.2",
    }
    upgrade(load_settings(**values))
    with Session(make_engine(str(values["database_url"]))) as session:
        make_api_key(session, READ_KEY, ["read"], "reader")
    env = child_env({f"TICKETFLOW_{k.upper()}": v for k, v in values.items()})
    children: list[Child] = []
    try:
        api_port, worker_port = free_port(), free_port()
        api = spawn(
            "api", ticketflow_cmd("api", "--workers", "2", "--port", str(api_port)), env, tmp_path
        )
        children.append(api)
        worker = start_worker(
            env, tmp_path, gpu="cpu", name="prom", extra=("--metrics-port", str(worker_port))
        )
        children.append(worker)
        base = f"http://127.0.0.1:{api_port}"
        wait_until(lambda: _up(f"{base}/healthz"), 30, "the API", api)
        wait_until(lambda: worker_ready(worker), 120, "the worker", worker)
        yield {"api": base, "api_port": api_port, "worker_port": worker_port, "dir": tmp_path}
    finally:
        for c in reversed(children):
            c.stop()
        redis.Redis.from_url(REDIS_TEST_URL).delete(values["queue"], values["backfill_queue"])


def _start_prometheus(tmp: Path, api_port: int, worker_port: int) -> tuple[Child, str]:
    (tmp / "api-key").write_text(KEY)
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": "ticketflow-api",
                "authorization": {"credentials_file": str(tmp / "api-key")},
                "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}],
            },
            {
                "job_name": "ticketflow-worker",
                "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
            },
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: run scripts/install-prometheus.sh"
    child = spawn(
        "prometheus",
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        child_env({}),
        tmp,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _up(f"{base}/-/ready"), 30, "Prometheus", child)
    return child, base


def _query(base: str, promql: str) -> list[dict[str, object]]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _scalar(base: str, promql: str) -> float | None:
    result = _query(base, promql)
    return float(result[0]["value"][1]) if result else None  # type: ignore[index]


def test_prometheus_scrapes_the_api_and_a_worker(procs: dict[str, object]) -> None:
    api = str(procs["api"])
    for i in range(TICKETS):
        r = httpx.post(
            f"{api}/tickets",
            json={"body": f"my parcel {i} never arrived", "external_id": f"p-{i}"},
            headers={"X-API-Key": KEY},
            timeout=10,
        )
        assert r.status_code == 201, r.text

    def triaged() -> bool:
        page = httpx.get(
            f"{api}/tickets",
            params={"status": "triaged"},
            headers={"X-API-Key": READ_KEY},
            timeout=5,
        ).json()
        return bool(page["total"] == TICKETS)

    wait_until(triaged, 60, "the tickets to be triaged")
    # Both API processes write their counters to the shared directory (files named by pid).
    files = (Path(str(procs["dir"])) / "metrics").glob("*.db")
    assert len({f.stem.rsplit("_", 1)[-1] for f in files}) >= 2
    # Two API processes, one directory of counters: whichever process answers, all are summed.
    for _ in range(6):
        text = httpx.get(f"{api}/metrics", headers={"X-API-Key": KEY}, timeout=5).text
        assert (
            f'ticketflow_tickets_received_total{{outcome="created",source="api"}} {TICKETS}.0'
            in text
        )

    prom, base = _start_prometheus(
        Path(str(procs["dir"])), int(str(procs["api_port"])), int(str(procs["worker_port"]))
    )
    try:
        received = 'sum(ticketflow_tickets_received_total{job="ticketflow-api",outcome="created"})'
        done = 'sum(ticketflow_triage_outcomes_total{job="ticketflow-worker",outcome="triaged"})'
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if _scalar(base, received) == TICKETS and _scalar(base, done) == TICKETS:
                break
            time.sleep(0.5)
        assert _scalar(base, received) == TICKETS, prom.log_text()[-2000:]
        assert _scalar(base, done) == TICKETS
        ups = {r["metric"]["job"]: r["value"][1] for r in _query(base, "up")}  # type: ignore[index]
        assert ups == {"ticketflow-api": "1", "ticketflow-worker": "1"}
        # A histogram a dashboard panel reads: the worker timed each claim.
        claims = 'sum(ticketflow_stage_seconds_count{job="ticketflow-worker",stage="claim"})'
        assert (_scalar(base, claims) or 0) >= TICKETS
    finally:
        prom.stop()
