"""Serving the metrics of ``shared.metrics``: which registry, where, for how many processes.

- The API serves ``/metrics`` itself (behind the API key, see ``producer.api.routes_metrics``).
  With ``ticketflow api --workers N`` the N processes share a directory of memory-mapped files
  (prometheus_client's multiprocess mode): each scrape, whichever process answers, sums all N.
  The directory is ``TICKETFLOW_METRICS_MULTIPROC_DIR`` (default ``data_dir/metrics``), emptied
  at every start so counters restart from zero with the processes.
- A worker serves its own registry on a port bound to ``TICKETFLOW_METRICS_HOST`` (loopback by
  default): a Celery worker has no HTTP server of its own.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from shared.config import Settings

log = logging.getLogger(__name__)
# prometheus_client reads this variable when it is first imported: the API command sets it
# before uvicorn spawns its processes, from the setting (nothing else reads os.environ).
PROMETHEUS_ENV = "PROMETHEUS_MULTIPROC_DIR"
SETTING_ENV = "TICKETFLOW_METRICS_MULTIPROC_DIR"


def multiproc_dir(settings: Settings) -> Path:
    return settings.metrics_multiproc_dir or settings.data_dir / "metrics"


def prepare_multiprocess(settings: Settings) -> Path:
    """Empty the shared directory and point the processes about to start at it.

    Called by ``ticketflow api --workers N`` (N > 1) before uvicorn starts them: files left by
    a previous run would add its counts to this one's."""
    path = multiproc_dir(settings).resolve()
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ[PROMETHEUS_ENV] = str(path)
    os.environ[SETTING_ENV] = str(path)
    return path


def api_registry(settings: Settings, *collectors: Collector) -> CollectorRegistry:
    """The registry ``/metrics`` renders: this process's, or (multiprocess) all processes'
    files; plus the live collectors (queue depth, ticket ages) read at each scrape."""
    if settings.metrics_multiproc_dir is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(settings.metrics_multiproc_dir))
    else:
        registry = CollectorRegistry()
        registry.register(_Everything())
    for c in collectors:
        registry.register(c)
    return registry


class _Everything(Collector):
    """The default registry's metrics, inside a registry of the API's own (so its live
    collectors are not registered globally, once per app a test builds)."""

    def collect(self):  # type: ignore[no-untyped-def]
        return REGISTRY.collect()


def serve_metrics(settings: Settings, port: int, *collectors: Collector) -> bool:
    """Serve this process's metrics on ``settings.metrics_host:port``; False if not served.
    For any long-running process without an HTTP server of its own (a worker, delivery).

    A port already taken is logged and the worker runs on: its metrics are missing (the
    ``up`` series of Prometheus says so), but its GPU keeps working."""
    if port == 0:
        return False
    for c in collectors:
        REGISTRY.register(c)
    try:
        start_http_server(port, addr=settings.metrics_host)
    except OSError as err:
        log.error(
            "metrics not served: cannot listen on %s:%d (%s); set --metrics-port or "
            "TICKETFLOW_METRICS_PORT",
            settings.metrics_host,
            port,
            err.strerror or err,
        )
        return False
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, port)
    return True
