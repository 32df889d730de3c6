"""The worker process's long-lived state: the engine (loaded once), its stages, the DB engine.

Started once per process before the first message is taken (see ``worker.edge.tasks``); tasks reach
it through ``get_runtime`` rather than module globals scattered around.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import count

from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.exc import OperationalError

from shared import metrics
from shared.config import Settings
from shared.db import get_engine
from shared.errors import TicketflowError
from worker.drafting.draft_aids import build_draft_aids
from worker.drafting.knowledge_base import KnowledgeBase
from worker.edge.stall import StallHandler, StallWatchdog, WatchedEngine, end_worker
from worker.engine.base import Engine
from worker.engine.factory import build_engine
from worker.pipeline.stages import TriageStages, batched_drafts
from worker.pipeline.ticket_state import DB_UNAVAILABLE
from worker.pipeline.triage import (
    TriageJob,
    TriageOutput,
    finish,
    prepare_batch,
    redactor_from,
    run_batch,
)

log = logging.getLogger(__name__)
MAX_START_BACKOFF_S = 30.0


def _not_migrated(err: Exception) -> bool:
    """SQLite reports a missing table as an OperationalError; waiting will not create it."""
    return isinstance(err, OperationalError) and "no such table" in str(err.orig)


def wait_for_database(load: Callable[[], int], sleep: Callable[[float], None] = time.sleep) -> int:
    """Run ``load`` (the first database read of a worker) until the database answers.

    A worker started before its database (a host reboot, a PostgreSQL restart) waits with
    backoff and says why, instead of exiting and leaving its GPU idle until someone notices.
    A database that answers but is not migrated is not waited for.
    """
    for attempt in count():
        try:
            return load()
        except DB_UNAVAILABLE as err:
            if _not_migrated(err):
                raise
            delay = min(2.0**attempt, MAX_START_BACKOFF_S)
            reason = (str(getattr(err, "orig", None) or err).splitlines() or ["?"])[0]
            log.warning(
                "database not reachable at start (%s: %s); retrying in %.0f s",
                type(err).__name__,
                reason,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")


@dataclass
class WorkerRuntime:
    settings: Settings
    engine: Engine
    stages: TriageStages
    # The same triage as one call per batch (classify, retrieve, draft, finish), for
    # benchmarks and evaluation; the worker's tasks go through ``stages``.
    run_batch: Callable[[list[TriageJob]], list[TriageOutput]]
    db: DbEngine
    kb: KnowledgeBase
    watchdog: StallWatchdog
    name: str
    load_seconds: float


_runtime: WorkerRuntime | None = None
_lock = threading.Lock()


def start_runtime(settings: Settings, on_stall: StallHandler = end_worker) -> WorkerRuntime:
    """Load and warm up the engine; idempotent within a process.

    ``on_stall`` runs when one model call has taken ``settings.stall_seconds`` (see
    ``worker.edge.stall``).
    """
    global _runtime
    with _lock:
        if _runtime is not None:
            return _runtime
        t0 = time.perf_counter()
        loaded = build_engine(settings)
        watchdog = StallWatchdog(settings.stall_seconds, on_stall)
        engine = WatchedEngine(loaded, watchdog)
        engine.warm_up()
        db = get_engine(settings.resolved_database_url)
        kb = KnowledgeBase(  # same encoder for passages and tickets
            db,
            engine,
            top_k=settings.kb_top_k,
            min_similarity=settings.kb_min_similarity,
            refresh_s=settings.kb_refresh_s,
        )
        wait_for_database(kb.load)
        aids = build_draft_aids(settings, db, engine, loaded)  # issue 20
        load_s = time.perf_counter() - t0
        wait_s = settings.max_batch_wait_ms / 1000
        redactor = redactor_from(settings)
        # Continuous batching across tickets where the backend has it, static micro-batches
        # otherwise; classification of the next tickets runs while these generate.
        drafts = engine.draft_stream() or batched_drafts(engine.draft, settings.batch_size, wait_s)
        stages = TriageStages(
            partial(prepare_batch, engine, kb=kb, redactor=redactor, aids=aids),
            drafts,
            partial(finish, aids=aids),
            settings.batch_size,
            wait_s,
        )
        name = f"{socket.gethostname()}:{os.getpid()}"
        whole = partial(run_batch, engine, kb=kb, redactor=redactor, aids=aids)
        _runtime = WorkerRuntime(settings, engine, stages, whole, db, kb, watchdog, name, load_s)
        metrics.record_worker_ready(load_s, watchdog.longest_running_s)
        log.info(
            "worker %s ready: engine %s loaded and warmed in %.1fs on %s",
            name,
            engine.info.instance_id[:8],
            load_s,
            engine.info.device,
        )
        return _runtime


def runtime_started() -> bool:
    return _runtime is not None


def get_runtime() -> WorkerRuntime:
    if _runtime is None:
        raise TicketflowError("worker runtime not started: the model loads at worker start")
    return _runtime


def stop_runtime() -> None:
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.stages.close()
            close = getattr(_runtime.engine, "close", None)
            if callable(close):  # the stages are stopped: no model call is running
                close()
            _runtime.watchdog.close()
            _runtime = None
