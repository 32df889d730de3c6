"""Producer-side commands: serve the API, apply migrations, re-send unsent tickets."""

from __future__ import annotations

import logging

import typer

from shared.config import redact_url, settings_or_exit

db_cmd = typer.Typer(help="Database schema commands.", no_args_is_help=True)


@db_cmd.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from shared.db import current_revision, upgrade

    settings = settings_or_exit()
    url = settings.resolved_database_url
    where = url.split("@")[-1]
    try:
        upgrade(settings, revision)
        now = current_revision(url)
    except CommandError as err:  # an unknown revision, or one below the current (a downgrade)
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    except (SQLAlchemyError, OSError) as err:
        typer.echo(f"error: database {where}: {_first_line(err)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"database at {now}: {where}")


def _first_line(err: Exception) -> str:
    return (str(getattr(err, "orig", None) or err).strip().splitlines() or ["?"])[0]


def api_cmd(
    host: str = typer.Option("", help="Bind address (default TICKETFLOW_API_HOST)."),
    port: int = typer.Option(0, help="Port (default TICKETFLOW_API_PORT)."),
    workers: int = typer.Option(
        1, min=1, max=64, help="Server processes; each builds its own app from the settings."
    ),
) -> None:
    """Serve the REST API and the review page (OpenAPI docs at /docs with TICKETFLOW_API_DOCS)."""
    settings = settings_or_exit()  # before imports that build the Celery app from settings
    import uvicorn

    from producer.api.app import create_app

    bind_host, bind_port = host or settings.api_host, port or settings.api_port
    level = settings.log_level.lower()
    if workers == 1:
        one = settings.model_copy(update={"metrics_multiproc_dir": None})  # one process's own
        uvicorn.run(
            create_app(one),
            host=bind_host,
            port=bind_port,
            log_level=level,
            # The app believes X-Forwarded-* only from TICKETFLOW_TRUSTED_PROXIES (access/).
            proxy_headers=False,
            server_header=False,
        )
    else:  # uvicorn starts the processes and imports the factory in each of them
        from shared.metrics_export import prepare_multiprocess

        prepare_multiprocess(settings)  # each process reads the directory from its environment
        uvicorn.run(
            "producer.api.app:create_app",
            factory=True,
            workers=workers,
            host=bind_host,
            port=bind_port,
            log_level=level,
            proxy_headers=False,
            server_header=False,
        )


def requeue_cmd() -> None:
    """Send stored tickets not sent yet, and re-send those whose message was lost, now.

    Every API and worker process does the same continuously; this is for a stack where
    none runs, or to see the counts."""
    settings = settings_or_exit()
    import time

    import redis
    from sqlalchemy.exc import SQLAlchemyError

    from dispatch.broker_view import RedisBrokerView
    from dispatch.publisher import CeleryPublisher
    from dispatch.recovery import Recovery
    from dispatch.relay import relay
    from shared.celery_app import create_celery_app
    from shared.db import get_engine
    from shared.errors import TransientError

    logging.basicConfig(level=settings.log_level)
    view = RedisBrokerView.from_url(settings.redis_url)
    try:
        view.client.ping()  # every send would fail: say so once, instead of "sent 0"
        db = get_engine(settings.resolved_database_url)
        queues = [settings.queue, settings.backfill_queue]
        recovery = Recovery(db, view, queues, settings.lease_s)
        first = recovery.run_pass()
        time.sleep(1)  # lost means absent on two passes (see dispatch.recovery)
        second = recovery.run_pass() if first.suspects else first
        n = relay(db, CeleryPublisher(create_celery_app(settings)))
    except (redis.RedisError, OSError, TransientError) as err:
        where = redact_url(settings.redis_url)
        typer.echo(f"error: no Redis at {where} ({_first_line(err)}): nothing sent", err=True)
        raise typer.Exit(1) from None
    except SQLAlchemyError as err:
        typer.echo(f"error: database: {_first_line(err)}", err=True)
        raise typer.Exit(1) from None
    finally:
        view.close()
    handed_back = first.handed_back + (second.handed_back if second is not first else 0)
    typer.echo(
        f"sent {n} ticket(s) ({len(second.resent)} whose message was lost); "
        f"{handed_back} message(s) of dead workers handed back"
    )
