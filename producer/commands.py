"""Producer-side commands: serve the API, apply migrations, re-send unsent tickets."""

from __future__ import annotations

import logging

import typer

from shared.config import get_settings
from shared.errors import ConfigError

db_cmd = typer.Typer(help="Database schema commands.", no_args_is_help=True)


def _settings_or_exit():  # type: ignore[no-untyped-def]
    try:
        return get_settings()
    except ConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


@db_cmd.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from shared.db import upgrade

    settings = _settings_or_exit()
    upgrade(settings, revision)
    typer.echo(f"database at {revision}: {settings.resolved_database_url.split('@')[-1]}")


def api_cmd(
    host: str = typer.Option("", help="Bind address (default TICKETFLOW_API_HOST)."),
    port: int = typer.Option(0, help="Port (default TICKETFLOW_API_PORT)."),
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    settings = _settings_or_exit()  # before imports that build the Celery app from settings
    import uvicorn

    from producer.api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level.lower(),
    )


def requeue_cmd() -> None:
    """Re-send tickets whose queue message was never sent or seems lost."""
    settings = _settings_or_exit()
    from producer.enqueue import default_enqueuer
    from producer.intake import requeue_unsent
    from shared.db import session_scope

    logging.basicConfig(level=settings.log_level)
    with session_scope() as session:
        n = requeue_unsent(session, default_enqueuer(), settings.requeue_after_s)
    typer.echo(f"re-sent {n} ticket(s)")
