"""``ticketflow kb``: manage the knowledge base that grounds drafted replies (no torch here)."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.exc import SQLAlchemyError

from shared.config import get_settings
from shared.errors import ConfigError

kb_cmd = typer.Typer(help="Knowledge base for grounded drafts.", no_args_is_help=True)


@kb_cmd.callback()
def _kb() -> None:
    """Knowledge base for grounded drafts."""  # a callback keeps `import` a sub-command


@kb_cmd.command("import")
def import_cmd(
    paths: list[Path] = typer.Argument(..., help="Markdown files or folders, or JSONL files."),
) -> None:
    """Import help articles; importing a document again replaces its passages."""
    from producer.kb_import import KbImportError, import_paths
    from shared.db import get_engine, session_scope

    try:
        settings = get_settings()
        with session_scope(get_engine(settings.resolved_database_url)) as session:
            summary = import_paths(session, paths)
    except (ConfigError, KbImportError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    except SQLAlchemyError as err:
        reason = (str(getattr(err, "orig", None) or err).splitlines() or ["?"])[0]
        typer.echo(f"error: database: {reason} (is it migrated? `ticketflow db upgrade`)", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"imported {summary.docs} document(s), {summary.passages} passage(s): "
        f"{summary.created} new, {summary.updated} updated, {summary.unchanged} unchanged"
    )
