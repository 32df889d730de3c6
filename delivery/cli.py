"""`ticketflow deliver`: the delivery worker. No model, no torch: it starts in about a second.

Consumes the delivery queue (``TICKETFLOW_OUTBOUND_QUEUE``) with a threads pool and runs the
relays of both outboxes and the sweeper; run one or more anywhere that reaches the database,
Redis, the SMTP server and the webhook endpoints.
"""

from __future__ import annotations

import logging

import typer

from shared.config import redact_url, settings_or_exit

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def deliver_cmd(
    concurrency: int = typer.Option(
        0, min=0, max=256, help="Sending threads; 0 = TICKETFLOW_DELIVERY_CONCURRENCY."
    ),
    hostname: str = typer.Option("", help="Celery node name; default ticketflow-deliver@host."),
    loglevel: str = typer.Option("INFO", help="Log level: DEBUG, INFO, WARNING, ERROR."),
    metrics_port: int = typer.Option(
        -1,
        help="Port of this process's /metrics on TICKETFLOW_METRICS_HOST; default "
        "TICKETFLOW_METRICS_PORT (a deliver process runs beside no worker in compose; on a GPU "
        "host, give it a port of its own); 0: none.",
    ),
) -> None:
    """Send approved replies (email, webhook) and webhook events from the outbox."""
    if loglevel.upper() not in LOG_LEVELS:
        typer.echo(f"error: --loglevel must be one of {', '.join(LOG_LEVELS)}", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()
    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s: %(levelname)s] %(message)s")
    smtp = settings.smtp_url.get_secret_value()
    log = logging.getLogger("delivery")
    log.info(
        "delivery: queue %s, SMTP %s, %d webhook endpoint(s), hold %gs",
        settings.outbound_queue,
        redact_url(smtp) if smtp else "not set (email replies wait)",
        len(settings.webhook_url_list),
        settings.delivery_hold_s,
    )
    from delivery.tasks import app
    from shared.metrics_export import serve_metrics

    serve_metrics(settings, settings.metrics_port if metrics_port < 0 else metrics_port)

    code = app.start(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency or settings.delivery_concurrency}",
            f"--queues={settings.outbound_queue}",
            f"--hostname={hostname or 'ticketflow-deliver@%h'}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    raise typer.Exit(code or 0)
