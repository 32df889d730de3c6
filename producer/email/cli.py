"""`ticketflow ingest-email`: the thin edge that turns options into sources and a run.

Every failure a user can cause (missing file, unreachable server, bad login, bad settings)
ends in one readable line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import typer

from dispatch.publisher import CeleryPublisher, Publisher
from producer.email.imap import ImapConfig, Security, check_config
from producer.email.ingest import EmailIngester, IngestCounts
from producer.email.run import ingest_all, poll_imap
from producer.email.sources import RawMail, iter_eml, iter_maildir, iter_mbox
from producer.email.trust import SenderTrust
from shared.config import Settings, settings_or_exit
from shared.errors import SourceError, TransientError

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


def make_publisher(settings: Settings) -> Publisher:
    """The Celery publisher for these settings' broker (tests substitute a recorder)."""
    from shared.celery_app import create_celery_app

    return CeleryPublisher(create_celery_app(settings))


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _security(settings: Settings, ssl_: bool, starttls: bool, plain: bool) -> Security:
    chosen = [name for name, on in (("ssl", ssl_), ("starttls", starttls), ("plain", plain)) if on]
    if len(chosen) > 1:
        raise _fail("choose one of --ssl, --starttls, --plain", EXIT_USAGE)
    return chosen[0] if chosen else settings.imap_security  # type: ignore[return-value]


def _password(settings: Settings, given: str, password_file: Path | None) -> str:
    if password_file is not None:
        try:
            return password_file.read_text().strip()
        except OSError as err:
            raise _fail(f"cannot read --imap-password-file: {err}") from None
    return given or settings.imap_password.get_secret_value()


def ingest_email(
    imap_host: str = typer.Option("", help="IMAP server to read; omit for files only."),
    imap_port: int = typer.Option(0, help="Default 993 with --ssl, 143 otherwise."),
    imap_user: str = typer.Option("", help="IMAP login."),
    imap_password: str = typer.Option("", help="IMAP password (visible in `ps`; prefer a file)."),
    imap_password_file: Path | None = typer.Option(None, help="File holding the IMAP password."),
    ssl_: bool = typer.Option(False, "--ssl", help="Implicit TLS, port 993 (default security)."),
    starttls: bool = typer.Option(False, "--starttls", help="Upgrade with STARTTLS, port 143."),
    plain: bool = typer.Option(False, "--plain", help="No encryption: loopback servers only."),
    ca_file: Path | None = typer.Option(None, help="Trust this CA file (self-signed servers)."),
    folder: str = typer.Option("", help="IMAP folder to read (default INBOX)."),
    processed_flag: str = typer.Option("", help="Flag set once a mail is stored (\\Seen)."),
    processed_folder: str = typer.Option("", help="Also move stored mail to this folder."),
    once: bool = typer.Option(False, "--once", help="Read the mailbox once, then exit."),
    poll_interval: int = typer.Option(0, min=0, help="Seconds between mailbox polls (60)."),
    mbox: list[Path] | None = typer.Option(None, help="mbox file to import (repeatable)."),
    maildir: list[Path] | None = typer.Option(None, help="Maildir folder (repeatable)."),
    eml: list[Path] | None = typer.Option(None, help=".eml file or folder (repeatable)."),
    max_message_bytes: int = typer.Option(
        0, min=0, help="Bigger mail is quarantined, not parsed (default 25 MiB)."
    ),
    trust_senders: bool = typer.Option(
        False,
        "--trust-senders",
        help="Believe every From of this source (it authenticated senders itself); otherwise "
        "only Authentication-Results from TICKETFLOW_EMAIL_TRUSTED_AUTHSERV_IDS count.",
    ),
) -> None:
    """Turn support mail into tickets: IMAP, mbox, Maildir or .eml files.

    Every IMAP option falls back to its TICKETFLOW_IMAP_* setting.
    """
    settings = settings_or_exit()
    logging.basicConfig(level=settings.log_level)
    imap = None
    host = imap_host or settings.imap_host
    if host:
        user = imap_user or settings.imap_user
        password = _password(settings, imap_password, imap_password_file)
        if not user or not password:
            raise _fail("IMAP needs --imap-user and --imap-password(-file)", EXIT_USAGE)
        imap = ImapConfig(
            host=host, user=user, password=password,
            port=imap_port or settings.imap_port or None,
            security=_security(settings, ssl_, starttls, plain),
            folder=folder or settings.imap_folder,
            processed_flag=processed_flag or settings.imap_processed_flag,
            processed_folder=processed_folder or settings.imap_processed_folder or None,
            ca_file=ca_file,
        )  # fmt: skip
    try:
        local = [iter_mbox(p) for p in mbox or []] + [iter_maildir(p) for p in maildir or []]
        local += [iter_eml(list(eml))] if eml else []
        if imap is not None:
            check_config(imap)
    except SourceError as err:
        raise _fail(str(err)) from None
    if imap is None and not local:
        raise _fail("nothing to read: give --imap-host, --mbox, --maildir or --eml", EXIT_USAGE)
    _run(settings, local, imap, once=once,
         interval_s=poll_interval or settings.imap_poll_interval_s,
         max_message_bytes=max_message_bytes or settings.email_max_message_bytes,
         trust=SenderTrust.of(settings.trusted_authserv_ids,
                              trust_senders or settings.email_trust_senders))  # fmt: skip


def _run(
    settings: Settings,
    local: list[Iterator[RawMail]],
    imap: ImapConfig | None,
    *,
    once: bool,
    interval_s: int,
    max_message_bytes: int,
    trust: SenderTrust,
) -> None:
    from shared.db import get_engine, session_scope

    counts = IngestCounts()
    code = 0
    try:
        with session_scope(get_engine(settings.resolved_database_url)) as session:
            ingester = EmailIngester(
                session, make_publisher(settings), settings.queue,
                max_body_chars=settings.max_body_chars, max_message_bytes=max_message_bytes,
                max_header_bytes=settings.email_max_header_bytes, trust=trust,
            )  # fmt: skip
            for mails in local:
                ingest_all(ingester, mails, counts, typer.echo)
            if imap is not None:
                poll_imap(ingester, imap, counts, typer.echo, once=once, interval_s=interval_s)
    except (SourceError, TransientError) as err:
        typer.echo(f"error: {err}", err=True)
        code = EXIT_FAILED
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    typer.echo(counts.summary())
    if code:
        raise typer.Exit(code)
