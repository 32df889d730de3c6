"""`ticketflow worker`: one Celery worker process per GPU.

CUDA_VISIBLE_DEVICES and OMP_WAIT_POLICY must be set before torch is imported, so this module
imports nothing heavy at the top: the Celery app (and through it the model code) is imported
after pinning.
"""

from __future__ import annotations

import logging
import os

import typer

from shared.config import settings_or_exit
from shared.errors import ConfigError
from worker.threads import set_wait_policy

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def pin_gpu(gpu: str) -> str:
    """Expose exactly one GPU (or none, for ``cpu``) to this process."""
    if gpu == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return "cpu"
    if gpu == "auto":
        return "auto"
    if not gpu.isdigit():
        raise ConfigError(f"--gpu must be a GPU index, 'auto' or 'cpu', not {gpu!r}")
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    return f"cuda:{gpu}"


def metrics_port_for(base: int, gpu: str, option: int) -> int:
    """One port per worker on a host: the option if given, else the setting plus the GPU index
    (0 stays 0: metrics off)."""
    if option >= 0:
        return option
    return base + int(gpu) if base and gpu.isdigit() else base


def worker_cmd(
    gpu: str = typer.Option(
        "auto",
        help="GPU index to pin (sets CUDA_VISIBLE_DEVICES), "
        "'cpu', or 'auto' (first visible GPU, else CPU).",
    ),
    queues: str = typer.Option(
        "",
        help="Comma-separated queues, in priority order. Default: live queue, then backfill queue.",
    ),
    concurrency: int = typer.Option(
        0, help="Task threads; 0 = TICKETFLOW_WORKER_CONCURRENCY or twice the batch size."
    ),
    hostname: str = typer.Option("", help="Celery node name; default ticketflow-gpu<N>@host."),
    loglevel: str = typer.Option("INFO", help="Celery log level: DEBUG, INFO, WARNING, ERROR."),
    metrics_port: int = typer.Option(
        -1,
        help="Port of this worker's /metrics on TICKETFLOW_METRICS_HOST; default "
        "TICKETFLOW_METRICS_PORT plus the GPU index; 0: none.",
    ),
) -> None:
    """Run a triage worker: load the models once, then take tickets from the queue."""
    try:
        pinned = pin_gpu(gpu)
        if loglevel.upper() not in LOG_LEVELS:
            raise ConfigError(
                f"--loglevel must be one of {', '.join(LOG_LEVELS)}, not {loglevel!r}"
            )
    except ConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    # Before torch (and its OpenMP runtime) loads: see worker.threads.
    set_wait_policy(settings.omp_wait_policy)
    # Model loading logs appear before Celery configures logging; show them.
    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s: %(levelname)s] %(message)s")
    from shared.celery_app import app
    from worker.edge.runtime import start_runtime

    # Load before Celery starts (the threads pool runs tasks in this process, and its start-up
    # hook then finds the models loaded): a model that cannot load is one error line and exit 2.
    try:
        start_runtime(settings)
    except ConfigError as err:
        typer.echo(f"error: cannot start the worker: {err}", err=True)
        raise typer.Exit(2) from None
    except Exception as err:
        typer.echo(f"error: cannot start the worker: {type(err).__name__}: {err}", err=True)
        raise typer.Exit(2) from None

    from shared.metrics_export import serve_metrics

    serve_metrics(settings, metrics_port_for(settings.metrics_port, gpu, metrics_port))
    q = queues or f"{settings.queue},{settings.backfill_queue}"
    name = hostname or f"ticketflow-{pinned.replace(':', '')}@%h"
    # app.start, not app.worker_main: worker_main drops the exit code, so a worker that Celery
    # stops on an unrecoverable error would exit 0 and a restart-on-failure supervisor would
    # leave it down.
    code = app.start(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency or settings.concurrency}",
            f"--queues={q}",
            f"--hostname={name}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    raise typer.Exit(code or 0)
