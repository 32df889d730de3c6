"""``ticketflow users`` and ``ticketflow keys``: thin edges over ``access.users``/``access.keys``.

Passwords are prompted for (hidden, twice) or read from stdin (``--password-stdin``), never
taken as an argument: arguments end up in shell history and ``ps``. A key is printed once.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from sqlmodel import Session

from shared.config import settings_or_exit
from shared.errors import ConflictError, InputError, NotFoundError
from shared.models import Role

users_cmd = typer.Typer(help="People who log in to the review page.", no_args_is_help=True)
keys_cmd = typer.Typer(help="Scoped API keys for machines.", no_args_is_help=True)
T = TypeVar("T")


@contextmanager
def _db() -> Iterator[Session]:
    """A session on the configured database; a database error is one line and exit 1."""
    from sqlalchemy.exc import SQLAlchemyError

    from shared.db import get_engine, session_scope

    settings = settings_or_exit()
    try:
        with session_scope(get_engine(settings.resolved_database_url)) as session:
            yield session
    except SQLAlchemyError as err:
        reason = (str(getattr(err, "orig", None) or err).splitlines() or ["?"])[0]
        typer.echo(f"error: database: {reason} (is it migrated? `ticketflow db upgrade`)", err=True)
        raise typer.Exit(1) from None


def _run(action: Callable[[], T]) -> T:
    """Domain errors as one line and a non-zero exit, no traceback."""
    try:
        return action()
    except (InputError, ConflictError, NotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        code = 2 if isinstance(err, InputError) else 1
        raise typer.Exit(code) from None


def _audit(session: Session, action: str, detail: dict[str, object]) -> None:
    from access.audit import record

    record(session, "cli", getpass.getuser(), action, detail=detail, commit=True)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@users_cmd.command("add")
def users_add(
    username: str = typer.Argument(..., help="Login name (stored lower-case)."),
    role: Role = typer.Option(Role.reviewer, help="reviewer: read and decide; admin: all."),
    password_stdin: bool = typer.Option(False, help="Read the password from stdin."),
) -> None:
    """Add a person; the password is hashed with argon2id, never stored or shown."""
    from access.users import add_user

    password = _password(password_stdin)
    with _db() as session:
        user = _run(lambda: add_user(session, username, password, role))
        _audit(session, "user_added", {"username": user.username, "role": user.role})
    typer.echo(f"added {user.role} {user.username!r}")


@users_cmd.command("list")
def users_list() -> None:
    """Every user, with role and state."""
    from access.users import list_users

    with _db() as session:
        users = list_users(session)
    if not users:
        typer.echo("no users: add one with `ticketflow users add NAME --role admin`")
    for u in users:
        state = "disabled" if u.disabled else "active"
        typer.echo(f"{u.username}\t{u.role}\t{state}\tsince {u.created_at:%Y-%m-%d}")


@users_cmd.command("disable")
def users_disable(username: str = typer.Argument(...)) -> None:
    """Disable a user: their open sessions end at their next request."""
    from access.users import set_disabled

    with _db() as session:
        user = _run(lambda: set_disabled(session, username, True))
        _audit(session, "user_disabled", {"username": user.username})
    typer.echo(f"disabled {user.username!r}; their sessions have ended")


@users_cmd.command("enable")
def users_enable(username: str = typer.Argument(...)) -> None:
    """Enable a disabled user again."""
    from access.users import set_disabled

    with _db() as session:
        user = _run(lambda: set_disabled(session, username, False))
        _audit(session, "user_enabled", {"username": user.username})
    typer.echo(f"enabled {user.username!r}")


@users_cmd.command("reset-password")
def users_reset_password(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, help="Read the password from stdin."),
) -> None:
    """Set a new password; the user's open sessions end."""
    from access.users import reset_password

    password = _password(password_stdin)
    with _db() as session:
        user = _run(lambda: reset_password(session, username, password))
        _audit(session, "password_reset", {"username": user.username})
    typer.echo(f"password of {user.username!r} reset; their sessions have ended")


@keys_cmd.command("create")
def keys_create(
    name: str = typer.Argument(..., help="What uses the key, e.g. helpdesk-intake."),
    scope: list[str] = typer.Option(
        ..., "--scope", "-s", help="intake, read, review or admin; repeat or comma-separate."
    ),
) -> None:
    """Create a key and print it ONCE: only its hash is kept."""
    from access.keys import create_key

    scopes = [s for item in scope for s in item.split(",")]
    with _db() as session:
        new = _run(lambda: create_key(session, name, scopes))
        _audit(session, "key_created", {"name": name, "scopes": new.row.scopes})
    typer.echo(f"created key {name!r} (scopes {', '.join(new.row.scopes)}); store it now, it is")
    typer.echo("not shown again. Send it as the X-API-Key header:", err=False)
    typer.echo(new.secret)


@keys_cmd.command("list")
def keys_list() -> None:
    """Keys by name, prefix and scopes (never the secret)."""
    from access.keys import list_keys

    with _db() as session:
        rows = list_keys(session)
    if not rows:
        typer.echo("no keys: create one with `ticketflow keys create NAME --scope intake`")
    for k in rows:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "live"
        used = f"last used {k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never used"
        typer.echo(f"{k.name}\ttf_{k.prefix}_…\t{','.join(k.scopes)}\t{state}\t{used}")


@keys_cmd.command("revoke")
def keys_revoke(name: str = typer.Argument(..., help="The key's name or prefix.")) -> None:
    """Revoke a key: refused from its next request on."""
    from access.keys import revoke_key

    with _db() as session:
        row = _run(lambda: revoke_key(session, name))
        _audit(session, "key_revoked", {"name": row.name, "prefix": row.prefix})
    typer.echo(f"revoked key {row.name!r} (tf_{row.prefix}_…)")
