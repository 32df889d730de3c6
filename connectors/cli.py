"""``ticketflow integrations list`` and ``ticketflow integrations check NAME``.

``check`` asks the live helpdesk: do the credentials work, does every mapped field exist, is a
webhook secret set. It prints one line per item and exits 1 when any failed, so it can run in
a deployment script. Secrets are never printed.
"""

from __future__ import annotations

import typer

from shared.config import settings_or_exit

integrations_cmd = typer.Typer(
    help="Helpdesk connectors (docs/connectors): list them, check one against its helpdesk.",
    no_args_is_help=True,
)


@integrations_cmd.command("list")
def list_cmd() -> None:
    """The configured connectors: name, kind, URL, reply mode and webhook path."""
    settings = settings_or_exit()
    if not settings.connectors:
        typer.echo("no connectors configured (TICKETFLOW_CONNECTORS, TICKETFLOW_CONNECTORS_FILE)")
        return
    for name, config in sorted(settings.connectors.items()):
        typer.echo(
            f"{name}\t{config.kind}\t{config.url}\treply_mode={config.reply_mode}\t"
            f"POST {settings.base_url}/integrations/{name}/events"
        )


@integrations_cmd.command("check")
def check_cmd(name: str = typer.Argument(..., help="The connector's configured name.")) -> None:
    """Verify credentials and field mappings against the live helpdesk."""
    from connectors.registry import build
    from shared.errors import NotFoundError

    settings = settings_or_exit()
    try:
        connector = build(name, settings)
    except NotFoundError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    try:
        items = connector.check()
    finally:
        connector.close()
    for item in items:
        mark = "ok  " if item.ok else "FAIL"
        typer.echo(f"{mark} {item.name}" + (f": {item.detail}" if item.detail else ""))
    failed = [i for i in items if not i.ok]
    verdict = f"{len(failed)} failed" if failed else "all checks passed"
    typer.echo(f"{name} ({connector.kind}): {verdict}")
    raise typer.Exit(1 if failed else 0)
