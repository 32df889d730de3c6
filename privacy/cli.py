"""`ticketflow forget` and `ticketflow purge`: thin edges over ``privacy.erasure``."""

from __future__ import annotations

import typer

from shared.config import settings_or_exit


def forget_cmd(
    email: str = typer.Option(..., "--email", help="The customer's e-mail address."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, delete nothing."),
) -> None:
    """Erase a customer: tickets, messages, results, reviews, outbox rows, quarantined mail."""
    from privacy.erasure import forget, summary
    from shared.db import get_engine, session_scope

    settings = settings_or_exit()
    with session_scope(get_engine(settings.resolved_database_url)) as session:
        try:
            removed = forget(session, email, dry_run)
        except ValueError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"forget {email}: {summary(removed, dry_run)}")


def purge_cmd(
    older_than: str = typer.Option(..., "--older-than", help="Age such as 365d, 52w or 48h."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, delete nothing."),
) -> None:
    """Retention: remove tickets inactive for longer than the given age, with everything
    hanging off them, and older quarantined input."""
    from privacy.erasure import parse_age, purge, summary
    from shared.db import get_engine, session_scope

    try:
        age = parse_age(older_than)
    except ValueError as err:
        typer.echo(f"error: --older-than: {err}", err=True)
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    with session_scope(get_engine(settings.resolved_database_url)) as session:
        removed = purge(session, age, dry_run=dry_run)
    typer.echo(f"purge older than {older_than}: {summary(removed, dry_run)}")
