"""``ticketflow templates``: reply templates, the cold start for reply suggestions (no torch)."""

from __future__ import annotations

from pathlib import Path

import typer

from knowledge.cli import _kb_session

templates_cmd = typer.Typer(help="Reply templates for suggestions.", no_args_is_help=True)


@templates_cmd.callback()
def _templates() -> None:
    """Reply templates for suggestions."""


@templates_cmd.command("import")
def import_cmd(
    paths: list[Path] = typer.Argument(..., help="Markdown files or folders, or JSONL files."),
) -> None:
    """Import reply templates; importing an id again replaces that template."""
    from knowledge.templates import import_templates

    with _kb_session() as session:
        s = import_templates(session, paths)
    typer.echo(
        f"imported {s.templates} template(s): {s.created} new, {s.updated} updated, "
        f"{s.unchanged} unchanged"
    )


@templates_cmd.command("list")
def list_cmd() -> None:
    """Templates with their language and category."""
    from knowledge.templates import list_templates

    with _kb_session() as session:
        rows = list_templates(session)
        for r in rows:
            typer.echo(f"{r.template_id}\t{r.language}\t{r.category}\t{r.ticket_text[:60]}")
    typer.echo(f"{len(rows)} template(s)", err=True)
