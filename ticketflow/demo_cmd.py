"""The `ticketflow demo` command (kept apart so the CLI imports nothing heavy)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import typer

from shared.config import get_settings
from shared.errors import ConfigError


def _terminate(*_: object) -> None:
    # A second SIGTERM (e.g. from `timeout` and a supervisor) must not cut the cleanup short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(128 + signal.SIGTERM)


def demo(
    samples: Path | None = typer.Option(
        None, help="JSONL of tickets; default: bundled samples.", exists=True, dir_okay=False
    ),
    keep_running: bool = typer.Option(False, help="Keep the API and worker up for reviewing."),
) -> None:
    """Enqueue sample tickets through the API and show the drafted, classified results."""
    import httpx
    from rich.console import Console

    from ticketflow.demo import DemoError, run_demo

    # Children run in their own sessions; SIGTERM must unwind through the demo's cleanup
    # (Python's default would exit at once and leave the worker and API running).
    signal.signal(signal.SIGTERM, _terminate)

    try:
        settings = get_settings()
    except ConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
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
