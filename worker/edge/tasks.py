"""Celery edge of the worker: thin tasks and the start-up hooks that load the model once.

With the threads (or solo) pool the engine loads in the main process at ``worker_init``,
before any message is consumed. With prefork it loads in each child at
``worker_process_init``, so CUDA is never initialised in a parent before fork.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from celery import Task, current_app
from celery.exceptions import Reject
from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown

from dispatch.publisher import CeleryPublisher
from dispatch.service import DispatchService
from shared import metrics
from shared.celery_app import app
from shared.config import get_settings
from shared.db import get_engine
from shared.errors import PermanentError, TransientError
from shared.task_names import TRIAGE_TICKET
from worker.edge.leases import LeaseKeeper
from worker.edge.runtime import get_runtime, runtime_started, start_runtime, stop_runtime
from worker.edge.stall import StallHandler, end_child, end_worker, remember_consumer
from worker.pipeline.triage import mark_failed, process_ticket

log = logging.getLogger(__name__)
IN_PROCESS_POOLS = ("concurrency.thread", "concurrency.solo")
MAX_COUNTDOWN_S = 60  # longest wait between retries
EXIT_CANNOT_START = 3
# Started when the consumer is ready, in the process that holds the messages.
_background: list[LeaseKeeper | DispatchService] = []


def _ours(worker_app: Any) -> bool:
    """Signals are process-wide: act only for workers of ticketflow's app."""
    return worker_app is app


@worker_init.connect
def _load_in_main(sender: Any = None, **_: Any) -> None:
    if not _ours(getattr(sender, "app", None)):
        return
    pool_cls = getattr(sender, "pool_cls", None)  # still the CLI's value: a name or a class
    pool = f"{getattr(pool_cls, '__module__', '')}.{pool_cls}".lower()
    if any(p in pool for p in IN_PROCESS_POOLS):
        _start_or_exit(end_worker)


@worker_process_init.connect
def _load_in_child(**_: Any) -> None:
    if _ours(current_app._get_current_object()):
        _start_or_exit(end_child)


def _start_or_exit(on_stall: StallHandler) -> None:
    """Celery logs and swallows errors raised in signal handlers: a worker whose models did not
    load would say "ready" and then fail every ticket. End the process instead."""
    try:
        start_runtime(get_settings(), on_stall)
    except Exception as err:
        log.critical("worker cannot start, no ticket taken: %s: %s", type(err).__name__, err)
        logging.shutdown()
        os._exit(EXIT_CANNOT_START)


@worker_ready.connect
def _on_ready(sender: Any = None, **_: Any) -> None:
    """The stall watchdog needs the consumer to hand this worker's messages back; the lease
    keeper renews this worker's hold on them; the dispatch loops relay and recover tickets
    wherever a worker runs."""
    if not _ours(getattr(sender, "app", None)):
        return
    remember_consumer(sender)
    settings = get_settings()
    owner = f"{socket.gethostname()}:{os.getpid()}"
    keeper = LeaseKeeper(get_engine(settings.resolved_database_url), owner, settings.lease_s)
    _background[:] = [keeper, DispatchService(settings, CeleryPublisher(app))]
    for part in _background:
        part.start()


@worker_shutdown.connect
def _shutdown(sender: Any = None, **_: Any) -> None:
    if _ours(getattr(sender, "app", None)):
        for part in _background:
            part.stop()
        _background.clear()
        stop_runtime()


# Not a shared task: Celery would otherwise register it on every app in the process.
@app.task(name=TRIAGE_TICKET, bind=True, acks_late=True, max_retries=None, shared=False)
def triage_ticket(self: Task, ticket_id: int, revision: int = 1) -> str:
    # Normally loaded at worker start; a custom pool that skipped our hooks loads it here once.
    rt = get_runtime() if runtime_started() else start_runtime(get_settings())
    delivery = self.request.delivery_info or {}
    if delivery.get("redelivered"):
        metrics.record_redelivery()
    waited_here = 0  # retries done in this call because the broker could not take them
    while True:
        try:
            return process_ticket(
                ticket_id,
                revision,
                db=rt.db,
                engine=rt.engine,
                submit=rt.stages.submit,
                worker=rt.name,
                threshold=rt.settings.confidence_threshold,
                lease_s=rt.settings.lease_s,
                queue=delivery.get("routing_key") or "",
                webhook_urls=rt.settings.webhook_url_list,
            ).value
        except TransientError as err:
            retries = self.request.retries + waited_here
            if retries >= rt.settings.max_retries:
                metrics.record_failure("retries_exhausted")
                return _fail(self, ticket_id, revision, f"gave up after {retries} retries: {err}")
            metrics.record_retry()
            _retry_or_wait(self, ticket_id, err, min(2**retries, MAX_COUNTDOWN_S))
            waited_here += 1
        except PermanentError as err:
            metrics.record_failure("permanent")
            return _fail(self, ticket_id, revision, str(err))
        except Exception as err:  # a bug or an unforeseen error: the ticket must still say so
            log.exception("ticket %s rev %s: unexpected error", ticket_id, revision)
            metrics.record_failure("unexpected")
            return _fail(
                self, ticket_id, revision, f"unexpected error: {err.__class__.__name__}: {err}"
            )


def _retry_or_wait(task: Task, ticket_id: int, err: TransientError, countdown: int) -> None:
    """Raise Celery's Retry; if Celery cannot publish it (Redis is down as well), wait here
    instead: rejecting would leave the ticket to the visibility timeout, and this message is
    still unacknowledged, so a crash while waiting loses nothing."""
    log.warning("ticket %s: %s; retry in %ss", ticket_id, err, countdown)
    try:
        raise task.retry(exc=err, countdown=countdown) from err
    except Reject:
        log.warning("ticket %s: broker unreachable too; retrying in this worker", ticket_id)
        time.sleep(countdown)


def _fail(task: Task, ticket_id: int, revision: int, reason: str) -> str:
    """Mark the ticket failed; if even that cannot be written, retry the task rather than let
    Celery acknowledge (and so drop) a message whose ticket would stay queued or processing."""
    log.error("ticket %s rev %s failed: %s", ticket_id, revision, reason)
    try:
        mark_failed(get_runtime().db, ticket_id, revision, reason)
    except TransientError as err:
        log.warning(
            "ticket %s: could not record the failure (%s); retry in %ss",
            ticket_id,
            err,
            MAX_COUNTDOWN_S,
        )
        raise task.retry(exc=err, countdown=MAX_COUNTDOWN_S) from err
    return "failed"
