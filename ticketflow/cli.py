"""The `ticketflow` command.

Each sub-command lives in the package it belongs to and is registered here. Modules on the
worker side import torch only inside their command bodies, so `ticketflow api` and the other
producer commands start fast and never load it.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import typer

from access.cli import keys_cmd, users_cmd
from connectors.cli import integrations_cmd
from delivery.cli import deliver_cmd
from knowledge.cli import kb_cmd
from knowledge.templates_cli import templates_cmd
from privacy.cli import forget_cmd, purge_cmd
from producer.backfill.cli import backfill
from producer.cli import api_cmd, db_cmd, requeue_cmd
from producer.email.cli import ingest_email
from review.report_cli import report_cmd
from shared.config import settings_or_exit
from shared.errors import ConfigError, DemoError
from shared.version import ticketflow_version
from training.cli import eval_cmd, train
from training.draft_eval_cli import eval_drafts
from worker.cli import worker_cmd


def _terminate(*_: object) -> None:
    # A second SIGTERM (e.g. from `timeout` and a supervisor) must not cut the cleanup short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(128 + signal.SIGTERM)


def compose(
    gpus: int = typer.Option(1, min=1, max=64, help="GPUs on the box: one worker each."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here instead of printing (e.g. docker-compose.yml)."
    ),
) -> None:
    """Write the docker-compose file for a box with GPUS GPUs (see docs/operations.md)."""
    from ticketflow.compose import render_compose

    text = render_compose(gpus)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output} ({gpus} GPU worker(s))")


def demo(
    samples: Path | None = typer.Option(
        None, help="JSONL of tickets; default: bundled samples.", exists=True, dir_okay=False
    ),
    keep_running: bool = typer.Option(False, help="Keep the API and worker up for reviewing."),
) -> None:
    """Enqueue sample tickets through the API and show the drafted, classified results."""
    import httpx
    from rich.console import Console

    from ticketflow.demo import run_demo

    # Children run in their own sessions; SIGTERM must unwind through the demo's cleanup
    # (Python's default would exit at once and leave the worker and API running).
    signal.signal(signal.SIGTERM, _terminate)

    settings = settings_or_exit()
    console = Console(width=160) if not Console().is_terminal else Console()
    try:
        code = run_demo(settings, console, samples, keep_running)
    except (DemoError, ConfigError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    except (RuntimeError, TimeoutError) as err:  # a child died or never came up: its log says why
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    except httpx.HTTPError as err:
        typer.echo(f"error: the demo's API failed: {err}", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(code)


app = typer.Typer(
    name="ticketflow",
    help="Classify support tickets and draft replies on your own GPUs, for a human to review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ticketflow {ticketflow_version()}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the installed version and exit.",
    ),
) -> None:
    """Classify support tickets and draft replies on your own GPUs, for a human to review."""


app.command("demo")(demo)
app.command("api")(api_cmd)
app.command("requeue")(requeue_cmd)
app.add_typer(db_cmd, name="db")
app.command("worker")(worker_cmd)
app.command("compose")(compose)
app.command("deliver")(deliver_cmd)
app.add_typer(integrations_cmd, name="integrations")
# -- channel and model commands register below (one line each) --
app.command("backfill")(backfill)
app.add_typer(kb_cmd, name="kb")
app.add_typer(templates_cmd, name="templates")
app.command("train")(train)
app.command("eval")(eval_cmd)
app.command("eval-drafts")(eval_drafts)
app.command("ingest-email")(ingest_email)
app.command("report")(report_cmd)
app.command("forget")(forget_cmd)
app.command("purge")(purge_cmd)
app.add_typer(users_cmd, name="users")
app.add_typer(keys_cmd, name="keys")

if __name__ == "__main__":
    app()
