"""``ticketflow kb``: manage the knowledge base that grounds drafted replies (no torch here)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlmodel import Session

from shared.config import settings_or_exit
from shared.errors import ConfigError, InputError

kb_cmd = typer.Typer(help="Knowledge base for grounded drafts.", no_args_is_help=True)


@kb_cmd.callback()
def _kb() -> None:
    """Knowledge base for grounded drafts."""  # a callback keeps `import` a sub-command


@contextmanager
def _kb_session() -> Iterator[Session]:
    """A session on the configured database; user-facing errors become one line and exit 1."""
    from shared.db import get_engine, session_scope

    settings = settings_or_exit()
    try:
        with session_scope(get_engine(settings.resolved_database_url)) as session:
            yield session
    except (ConfigError, InputError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    except SQLAlchemyError as err:
        reason = (str(getattr(err, "orig", None) or err).splitlines() or ["?"])[0]
        # A missing table is the usual cause; a refused value (DataError) is not a migration.
        hint = "" if isinstance(err, DataError) else " (is it migrated? `ticketflow db upgrade`)"
        typer.echo(f"error: database: {reason}{hint}", err=True)
        raise typer.Exit(1) from None


@kb_cmd.command("import")
def import_cmd(
    paths: list[Path] = typer.Argument(..., help="Markdown files or folders, or JSONL files."),
    prune: bool = typer.Option(
        False, "--prune", help="These files are the whole KB: delete documents not among them."
    ),
) -> None:
    """Import help articles; importing a document again replaces its passages."""
    from knowledge.importer import import_paths

    with _kb_session() as session:
        summary = import_paths(session, paths, prune=prune)
    typer.echo(
        f"imported {summary.docs} document(s), {summary.passages} passage(s): "
        f"{summary.created} new, {summary.updated} updated, {summary.unchanged} unchanged"
        + (f", {summary.removed} removed" if prune else "")
    )


@kb_cmd.command("delete")
def delete_cmd(
    doc_ids: list[str] = typer.Argument(..., help="Document ids (see `kb list`)."),
) -> None:
    """Delete documents; workers stop citing them at their next index refresh."""
    from knowledge.importer import delete_docs

    with _kb_session() as session:
        removed = delete_docs(session, doc_ids)
    typer.echo(f"deleted {removed} document(s)")


@kb_cmd.command("list")
def list_cmd() -> None:
    """Documents in the knowledge base, with their passage counts."""
    from knowledge.importer import list_docs

    with _kb_session() as session:
        docs = list_docs(session)
    for d in docs:
        typer.echo(f"{d.doc_id}\t{d.passages}\t{d.title}")
    typer.echo(f"{len(docs)} document(s)", err=True)
