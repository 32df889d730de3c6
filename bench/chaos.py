"""Chaos run: tickets through the API while workers, Redis and PostgreSQL fail, measured from
outside. Nothing may be lost or triaged twice, no request may get a 500, and every ticket must
be done soon after the last fault.

    python bench/chaos.py [--tickets 1000] [--rate 30] [--workers 2] [--worker-kills 3]
        [--redis-down-s 5] [--db-down-s 27] [--json bench/results/DATE-chaos.json]

The run starts its own Redis (AOF on, as a production Redis would run) and its own PostgreSQL
cluster (fsync off: only speed, not the faults, depends on it), the API and the workers as the
real ``ticketflow api`` / ``ticketflow worker`` processes on the fake engine, all with default
ticketflow settings. Clients POST at a steady rate and behave like real ones: a 503 is retried
after its ``Retry-After``, a timeout or a refused connection after a second, always with the same
``external_id``. Meanwhile: busy workers are SIGKILLed and replaced, Redis is SIGKILLed and
restarted from its data directory while POSTs continue, PostgreSQL is stopped and started.
The integration test ``tests/integration/test_chaos.py`` runs a small version of this.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for p in (str(REPO), str(BENCH)):
    if p not in sys.path:  # run as a script from anywhere
        sys.path.insert(0, p)

import httpx  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from shared.config import load_settings  # noqa: E402
from shared.db import make_engine, upgrade  # noqa: E402
from shared.models import Ticket, TriageResult  # noqa: E402
from ticketflow.processes import (  # noqa: E402
    Child,
    child_env,
    free_port,
    start_api,
    start_worker,
    wait_until,
    worker_ready,
)

KEY = "chaos-key"
SOURCE = "chaos"


@dataclass(frozen=True)
class ChaosConfig:
    tickets: int = 1000
    rate: float = 30.0  # POSTs per second
    workers: int = 2
    worker_kills: int = 3
    redis_down_s: float = 5.0
    db_down_s: float = 27.0
    clients: int = 32
    settle_timeout_s: float = 300.0


@dataclass
class ChaosReport:
    tickets: int
    acknowledged: int = 0
    lost: int = 0  # acknowledged, but no ticket row or no result in the end
    duplicated: int = 0  # more than one ticket per external id, or result per revision
    duplicate_deliveries: int = 0  # a worker got a message whose result existed (harmless)
    http_500: int = 0
    other_5xx: int = 0
    http_503: int = 0
    client_errors: int = 0  # timeouts and refused connections, retried
    max_wait_after_last_fault_s: float = 0.0
    p99_wait_after_last_fault_s: float = 0.0
    drain_after_last_post_s: float = 0.0
    post_p50_ms_redis_down: float = 0.0
    post_p50_ms_otherwise: float = 0.0
    post_p99_ms_redis_down: float = 0.0
    unacked_left: int = 0
    workers_died: int = 0  # workers not killed by the run that were gone at the end
    faults: list[str] = field(default_factory=list)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found under /usr/lib/postgresql")
    return found[-1]


class Postgres:
    """A throwaway cluster; stop and start are the fault.

    PostgreSQL refuses to run as root, so as root (CI) the cluster belongs to the ``postgres``
    user: its folder is a fresh one under the system's temp dir (pytest's are private to root)
    and every command runs through ``runuser``.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ticketflow-pg-"))
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.data, self.sock, self.log = self.root / "data", self.root, self.root / "pg.log"
        self.port = free_port()
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        self.start()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/chaos"
        admin = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres")
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CREATE DATABASE chaos")
        admin.dispose()

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.as_owner, *args], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-500:]}")

    def _ctl(self, *args: str) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), *args)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", opts, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes", "--dir", str(self.dir)]
        args += ["--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(["redis-server", *args])
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            wait_until(up, 30, "redis-server to start")
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class _Request:
    sent_at: float
    code: int  # 0: no answer (timeout, refused)
    seconds: float


class Clients:
    """Steady POSTs, each ticket retried like a real client until acknowledged."""

    def __init__(self, base: str, cfg: ChaosConfig) -> None:
        self.base, self.cfg = base, cfg
        self.requests: list[_Request] = []
        self.acked: dict[str, float] = {}  # external id -> when the 2xx came
        self.last_post_at = 0.0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        if not hasattr(self._local, "client"):
            self._local.client = httpx.Client(base_url=self.base, timeout=10)
            self._clients.append(self._local.client)
        client: httpx.Client = self._local.client
        return client

    def run(self) -> None:
        self._clients: list[httpx.Client] = []
        start = time.monotonic()
        with ThreadPoolExecutor(self.cfg.clients) as pool:
            for i in range(self.cfg.tickets):
                delay = start + i / self.cfg.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._post, f"chaos-{i}")
        for c in self._clients:
            c.close()

    def _post(self, external_id: str) -> None:
        body = {
            "source": SOURCE,
            "external_id": external_id,
            "subject": "Card declined",
            "body": f"My card was declined at the shop ({external_id}). Why?",
        }
        deadline = time.monotonic() + self.cfg.settle_timeout_s
        while time.monotonic() < deadline:
            t0 = time.time()
            try:
                r = self._client().post("/tickets", json=body, headers={"X-API-Key": KEY})
                code, wait = r.status_code, float(r.headers.get("Retry-After", "1"))
            except httpx.HTTPError:
                code, wait = 0, 1.0
            done = time.time()
            with self._lock:
                self.requests.append(_Request(t0, code, done - t0))
                self.last_post_at = max(self.last_post_at, done)
                if code in (200, 201):
                    self.acked[external_id] = done
                    return
            if code not in (0, 503):
                return  # a 4xx or a 500: a bug, counted; retrying would hide it
            time.sleep(min(wait, 5.0))


class Stack:
    """Redis, PostgreSQL, the API and the workers of one run, torn down together."""

    def __init__(self, root: Path, cfg: ChaosConfig) -> None:
        self.root, self.cfg = root, cfg
        self.logs = root / "logs"
        self.redis = RedisServer(root)
        self.pg = Postgres()
        upgrade(load_settings(database_url=self.pg.url, data_dir=root / "data"))
        self.env = child_env(
            {
                "TICKETFLOW_DATABASE_URL": self.pg.url,
                "TICKETFLOW_REDIS_URL": self.redis.url,
                "TICKETFLOW_ENGINE": "fake",
                "TICKETFLOW_DATA_DIR": str(root / "data"),
                "TICKETFLOW_API_KEYS": KEY,
                "TICKETFLOW_LOG_LEVEL": "INFO",
            }
        )
        self.workers: list[Child] = []
        self.retired: list[Child] = []
        self.api, self.base = start_api(self.env, self.logs, free_port())
        for _ in range(cfg.workers):
            w = self.add_worker()
            wait_until(partial(worker_ready, w), 120, f"{w.name} to be ready", w)

    def add_worker(self) -> Child:
        n = len(self.workers) + len(self.retired)
        w = start_worker(self.env, self.logs, gpu="cpu", name=f"worker{n}")
        self.workers.append(w)
        return w

    def kill_worker(self, i: int) -> None:
        w = self.workers.pop(i % len(self.workers))
        w.kill()
        self.retired.append(w)

    def worker_logs(self) -> str:
        return "".join(w.log_text() for w in self.workers + self.retired)

    def close(self) -> None:
        for c in [self.api, *self.workers]:
            try:
                c.stop(timeout=20)
            except Exception:
                c.kill()
        self.redis.kill()
        self.pg.remove()


def _faults(stack: Stack, cfg: ChaosConfig, log: Callable[[str], None]) -> dict[str, float]:
    """Run the fault schedule over the POST phase; returns the fault windows (epoch)."""
    post_s = cfg.tickets / cfg.rate
    t0 = time.monotonic()
    marks: dict[str, float] = {}

    def at(fraction: float) -> None:
        delay = t0 + fraction * post_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    kills = [0.1 + 0.5 * k / max(cfg.worker_kills - 1, 1) for k in range(cfg.worker_kills)]
    plan: list[tuple[float, str]] = [(f, "kill") for f in kills]
    plan += [(0.45, "redis"), (0.7, "db")]
    for fraction, what in sorted(plan):
        at(fraction)
        if what == "kill":
            stack.kill_worker(len(stack.retired))
            log("worker SIGKILLed")
            time.sleep(2)
            stack.add_worker()
            marks["last_worker_start"] = time.time()
        elif what == "redis":
            marks["redis_down"] = time.time()
            stack.redis.kill()
            log("Redis SIGKILLed")
            time.sleep(cfg.redis_down_s)
            stack.redis.start()
            marks["redis_up"] = time.time()
            log("Redis restarted")
        else:
            marks["db_down"] = time.time()
            stack.pg.stop()
            log("PostgreSQL stopped")
            time.sleep(cfg.db_down_s)
            stack.pg.start()
            marks["db_up"] = time.time()
            log("PostgreSQL started")
    return marks


def _quantile(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100)[q - 1]


def run_chaos(cfg: ChaosConfig, root: Path, log: Callable[[str], None] = print) -> ChaosReport:
    """One run in ``root`` (logs stay there); always tears its services down."""
    report = ChaosReport(tickets=cfg.tickets)
    stack = Stack(root, cfg)
    try:
        clients = Clients(stack.base, cfg)
        posting = threading.Thread(target=clients.run, name="chaos-clients")
        posting.start()
        marks = _faults(stack, cfg, log)
        posting.join()
        last_fault = max(marks.values())
        by_time = sorted(marks.items(), key=lambda kv: kv[1])
        report.faults = [f"{k} {v - last_fault:+.1f}s" for k, v in by_time]
        report.acknowledged = len(clients.acked)
        db = make_engine(stack.pg.url)
        try:
            done = _settle(db, set(clients.acked), cfg.settle_timeout_s)
            _measure(report, db, clients, done, last_fault, marks)
        finally:
            db.dispose()
        report.duplicate_deliveries = stack.worker_logs().count(": duplicate")
        report.workers_died = sum(1 for w in stack.workers if not w.alive())
        client = redis.Redis.from_url(stack.redis.url)
        report.unacked_left = int(client.hlen("unacked"))
        client.close()
    finally:
        stack.close()
    return report


def _settle(db: Any, acked: set[str], timeout: float) -> dict[str, float]:
    """Wait until every acknowledged ticket has a result; external id -> result time."""
    deadline = time.monotonic() + timeout
    stmt = (
        select(Ticket.external_id, func.min(TriageResult.created_at))
        .join(TriageResult, col(TriageResult.ticket_id) == Ticket.id)
        .where(Ticket.source == SOURCE)
        .group_by(Ticket.external_id)
    )
    done: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            with Session(db) as s:
                done = {e: t.timestamp() for e, t in s.exec(stmt).all() if e is not None}
        except Exception:
            pass
        if acked <= done.keys():
            break
        time.sleep(0.5)
    return done


def _measure(
    report: ChaosReport,
    db: Any,
    clients: Clients,
    done: dict[str, float],
    last_fault: float,
    marks: dict[str, float],
) -> None:
    with Session(db) as s:
        per_id = s.exec(
            select(Ticket.external_id, func.count())
            .where(Ticket.source == SOURCE)
            .group_by(Ticket.external_id)
        ).all()
        per_revision = s.exec(
            select(TriageResult.ticket_id, TriageResult.revision, func.count())
            .group_by(col(TriageResult.ticket_id), col(TriageResult.revision))
            .having(func.count() > 1)
        ).all()
    report.duplicated = sum(n - 1 for _, n in per_id if n > 1) + len(per_revision)
    report.lost = len(set(clients.acked) - done.keys())
    codes = [r.code for r in clients.requests]
    report.http_500 = codes.count(500)
    report.other_5xx = sum(1 for c in codes if c >= 500 and c not in (500, 503))
    report.http_503 = codes.count(503)
    report.client_errors = codes.count(0)
    waits = [max(0.0, done[e] - last_fault) for e in clients.acked if e in done]
    report.max_wait_after_last_fault_s = round(max(waits, default=0.0), 1)
    report.p99_wait_after_last_fault_s = round(_quantile(waits, 99), 1)
    if done:
        report.drain_after_last_post_s = round(max(done.values()) - clients.last_post_at, 1)
    down, up = marks.get("redis_down", 0.0), marks.get("redis_up", 0.0)
    during = [1000 * r.seconds for r in clients.requests if down <= r.sent_at <= up and r.code]
    other = [1000 * r.seconds for r in clients.requests if not down <= r.sent_at <= up and r.code]
    report.post_p50_ms_redis_down = round(_quantile(during, 50), 1)
    report.post_p99_ms_redis_down = round(_quantile(during, 99), 1)
    report.post_p50_ms_otherwise = round(_quantile(other, 50), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    defaults = ChaosConfig()
    ap.add_argument("--tickets", type=int, default=defaults.tickets)
    ap.add_argument("--rate", type=float, default=defaults.rate)
    ap.add_argument("--workers", type=int, default=defaults.workers)
    ap.add_argument("--worker-kills", type=int, default=defaults.worker_kills)
    ap.add_argument("--redis-down-s", type=float, default=defaults.redis_down_s)
    ap.add_argument("--db-down-s", type=float, default=defaults.db_down_s)
    ap.add_argument("--workdir", type=Path, help="keep services' data and logs here")
    ap.add_argument("--json", type=Path, help="also write the result here (bench/results_io)")
    args = ap.parse_args()
    cfg = ChaosConfig(
        tickets=args.tickets,
        rate=args.rate,
        workers=args.workers,
        worker_kills=args.worker_kills,
        redis_down_s=args.redis_down_s,
        db_down_s=args.db_down_s,
    )
    root = args.workdir or Path(tempfile.mkdtemp(prefix="ticketflow-chaos-"))
    t0 = time.monotonic()
    report = run_chaos(cfg, root, log=lambda m: print(f"[{time.monotonic() - t0:6.1f}s] {m}"))
    rows: list[list[Any]] = [
        ["tickets acknowledged (2xx)", f"{report.acknowledged} of {report.tickets}"],
        ["lost", report.lost],
        ["duplicated (tickets or results)", report.duplicated],
        ["duplicate deliveries (harmless, one result)", report.duplicate_deliveries],
        ["HTTP 500 / other 5xx", f"{report.http_500} / {report.other_5xx}"],
        ["HTTP 503 with Retry-After (database down)", report.http_503],
        ["client timeouts or refused connections", report.client_errors],
        [
            "max / p99 wait after the last fault",
            f"{report.max_wait_after_last_fault_s} s / {report.p99_wait_after_last_fault_s} s",
        ],
        ["drain after the last POST", f"{report.drain_after_last_post_s} s"],
        [
            "POST p50 / p99 while Redis is down",
            f"{report.post_p50_ms_redis_down} ms / {report.post_p99_ms_redis_down} ms",
        ],
        ["POST p50 otherwise", f"{report.post_p50_ms_otherwise} ms"],
        ["messages left unacknowledged in Redis", report.unacked_left],
        ["workers that died (not killed by the run)", report.workers_died],
    ]
    for label, value in rows:
        print(f"{label:<46} {value}")
    print("faults (relative to the last):", ", ".join(report.faults))
    print(f"logs: {root / 'logs'}")
    if args.json:
        from results_io import write

        write(
            args.json,
            benchmark="chaos",
            title="Chaos run: faults under load, measured from outside",
            columns=["measure", "value"],
            rows=[[label, str(value)] for label, value in rows],
            notes=f"{cfg.tickets} tickets POSTed at {cfg.rate:g}/s by {cfg.clients} clients, "
            f"{cfg.workers} workers on the fake engine; {cfg.worker_kills} worker SIGKILLs "
            f"(each replaced 2 s later), Redis SIGKILLed and restarted after "
            f"{cfg.redis_down_s:g} s (AOF), PostgreSQL stopped {cfg.db_down_s:g} s; default "
            "ticketflow settings; private Redis and PostgreSQL on one host.",
            raw=asdict(report),
        )


if __name__ == "__main__":
    main()
