"""Intake throughput: ticketflow's ``POST /tickets`` against a minimal FastAPI endpoint doing the
same insert + publish, on the same PostgreSQL and Redis, measured in one run.

    python bench/intake_throughput.py [--requests 2000] [--clients 32] [--workers 1]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--redis-url redis://127.0.0.1:6379/0] [--json bench/results/DATE-intake-throughput.json]

The baseline is what a team would write by hand: one route that validates the body, inserts the
row with SQLModel in one transaction and ``send_task``s the same message, nothing else (no
idempotency check, no error mapping, no relay). Each server runs alone in its own process
(uvicorn, ``--workers`` processes) while 32 asyncio clients POST unique tickets; the two runs
take turns so they never share the CPU. Messages go to a throwaway queue that is deleted after;
the tickets are written to a database this script creates and drops.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for p in (str(REPO), str(BENCH)):
    if p not in sys.path:  # run as a script from anywhere
        sys.path.insert(0, p)

import httpx  # noqa: E402
from results_io import write  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from shared.models import Ticket, TicketCreate  # noqa: E402  (FastAPI resolves the annotation)
from ticketflow.processes import free_port  # noqa: E402

KEY = "bench-key"


def baseline_app():  # type: ignore[no-untyped-def]
    """The hand-written endpoint: validate, insert, publish."""
    from fastapi import FastAPI
    from sqlmodel import Session, create_engine

    from shared.celery_app import create_celery_app
    from shared.config import load_settings
    from shared.task_names import TRIAGE_TICKET

    settings = load_settings()
    engine = create_engine(
        settings.resolved_database_url, pool_size=10, max_overflow=20, hide_parameters=True
    )
    celery = create_celery_app(settings)
    app = FastAPI()

    @app.post("/tickets", status_code=201)
    def create(data: TicketCreate) -> dict[str, int]:
        with Session(engine) as s:
            ticket = Ticket.model_validate(data, update={"queue": settings.queue})
            s.add(ticket)
            s.commit()
            ticket_id = ticket.id
        celery.send_task(TRIAGE_TICKET, args=[ticket_id, 1], queue=settings.queue)
        return {"id": ticket_id or 0}

    return app


def _serve(kind: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    if kind == "ticketflow":
        cmd = [sys.executable, "-m", "ticketflow.cli", "api", "--port", str(port)]
        cmd += ["--workers", str(workers)]
    else:
        cmd = [sys.executable, "-m", "uvicorn", "intake_throughput:baseline_app", "--factory"]
        cmd += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
        cmd += ["--app-dir", str(BENCH)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


async def _load(base: str, n: int, clients: int, tag: str) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(n))

    async def client(c: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            body = {"subject": "bench", "body": f"ticket {i} of {tag}", "external_id": f"{tag}-{i}"}
            t0 = time.perf_counter()
            try:
                r = await c.post("/tickets", json=body, headers={"X-API-Key": KEY})
                ok = r.status_code == 201
            except httpx.TransportError:  # a reset or refused connection is an error, counted
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(clients)))
        return time.perf_counter() - t0, latencies, errors


def _wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(base + "/docs", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError("server did not come up")


def _published_after(broker: Any, queue: str, expected: int, timeout: float = 60) -> float:
    """Seconds until ``expected`` messages are in the queue: ticketflow answers before it
    publishes (its relay does, right after), so a fair comparison waits for the messages."""
    t0 = time.perf_counter()
    while broker.llen(queue) < expected:
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"only {broker.llen(queue)} of {expected} messages published")
        time.sleep(0.01)
    return time.perf_counter() - t0


def _run(kind: str, args: argparse.Namespace, env: dict[str, str], broker: Any) -> dict[str, float]:
    port = free_port()
    queue = env["TICKETFLOW_QUEUE"]
    proc = _serve(kind, port, args.workers, env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, proc)
        warm = min(200, args.requests)
        _, _, warm_errors = asyncio.run(_load(base, warm, args.clients, f"warm-{kind}"))
        _published_after(broker, queue, warm - warm_errors)
        broker.delete(queue)
        t0 = time.perf_counter()
        seconds, lat, errors = asyncio.run(
            _load(base, args.requests, args.clients, f"{kind}-{uuid.uuid4().hex[:6]}")
        )
        lag = _published_after(broker, queue, args.requests - errors)
        until_published = time.perf_counter() - t0
        broker.delete(queue)
    finally:
        proc.terminate()
        proc.wait(30)
    q = statistics.quantiles(lat, n=100)
    return {
        "requests_per_s": args.requests / seconds,
        "published_per_s": args.requests / until_published,
        "publish_lag_s": lag,
        "p50_ms": 1000 * q[49],
        "p99_ms": 1000 * q[98],
        "errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--json", type=Path, help="also write the result here (bench/results_io)")
    args = ap.parse_args()

    import psycopg
    import redis

    from shared.config import load_settings
    from shared.db import upgrade

    admin = make_url(args.database_url)
    name = f"tf_intake_bench_{uuid.uuid4().hex[:8]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = admin.set(database=name).render_as_string(hide_password=False)
    queue = f"bench-intake-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "TICKETFLOW_DATABASE_URL": db_url,
        "TICKETFLOW_REDIS_URL": args.redis_url,
        "TICKETFLOW_QUEUE": queue,
        "TICKETFLOW_API_KEYS": KEY,
        "TICKETFLOW_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(BENCH)]),
    }
    broker = redis.Redis.from_url(args.redis_url)
    try:
        upgrade(load_settings(database_url=db_url))
        results = {kind: _run(kind, args, env, broker) for kind in ("baseline", "ticketflow")}
    finally:
        for key in broker.scan_iter(match=f"*{queue}*"):
            broker.delete(key)
        broker.close()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    ours, base = results["ticketflow"], results["baseline"]
    ratio = ours["requests_per_s"] / base["requests_per_s"]
    print(f"{'server':<34}{'req/s':>8}{'sent/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, r in (("minimal FastAPI insert+publish", base), ("ticketflow POST /tickets", ours)):
        print(
            f"{label:<34}{r['requests_per_s']:>8.0f}{r['published_per_s']:>8.0f}"
            f"{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['errors']:>8.0f}"
        )
    print(f"ratio (ticketflow / baseline): {ratio:.2f}x at {args.clients} clients")
    if args.json:
        rows = [
            [label, f"{r['requests_per_s']:.0f}", f"{r['published_per_s']:.0f}",
             f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['errors']:.0f}",
             f"{r['requests_per_s'] / base['requests_per_s']:.2f}x"]
            for label, r in (("minimal FastAPI: insert + publish", base),
                             ("ticketflow POST /tickets", ours))
        ]  # fmt: skip
        write(
            args.json,
            benchmark="intake-throughput",
            title="Intake: ticketflow's POST /tickets against a minimal insert + publish endpoint",
            columns=["server", "requests/s", "published/s", "p50 ms", "p99 ms", "errors", "ratio"],
            rows=rows,
            notes=f"{args.requests} POSTs from {args.clients} asyncio clients, "
            f"{args.workers} uvicorn worker(s) each, PostgreSQL and Redis on the same host; "
            "the load generator shares the CPU with the server. published/s counts until the last "
            "message is in Redis (ticketflow's relay publishes after the answer).",
            raw=results,
        )


if __name__ == "__main__":
    main()
