"""``ticketflow backfill``: import history from a file, or re-process stored tickets.

A thin edge: it checks the options, then hands over to ``importer`` or ``reprocess``. Both go
to ``settings.backfill_queue``, which workers poll after the live queue, so a 100,000-ticket
import never delays a live ticket.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError

from dispatch.publisher import CeleryPublisher
from producer.backfill.importer import Importer
from producer.backfill.mapping import parse_mapping
from producer.backfill.marker import RunMarker, marker_key
from producer.backfill.progress import BackfillDisplay
from producer.backfill.reader import RowReader
from producer.backfill.reprocess import (
    DEFAULT_STATUSES,
    ReprocessCounts,
    ReprocessFilter,
    count_candidates,
    reprocess,
)
from shared.config import Settings, settings_or_exit
from shared.db import get_engine, session_scope
from shared.errors import ConfigError, TicketflowError
from shared.models import TicketStatus, utcnow


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date (e.g. 2024-05-01 or 2024-05-01T08:00+02:00)",
            param_hint=option,
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _usage(message: str) -> NoReturn:
    # typer bundles its own click, so its UsageError is private: print and exit 2 like it would.
    typer.echo(f"Usage error: {message}. See --help.", err=True)
    raise typer.Exit(2)


def _publisher(settings: Settings) -> CeleryPublisher:
    # Built from these settings (not the module-level app, made at import) so broker and
    # queues match the settings this command runs with.
    from shared.celery_app import create_celery_app

    return CeleryPublisher(create_celery_app(settings))


def _import(
    settings: Settings,
    path: Path,
    mapping: str | None,
    source: str,
    file_format: str,
    rate: float,
    dry_run: bool,
    ui: BackfillDisplay,
) -> None:
    reader = RowReader(
        path,
        mapping=parse_mapping(mapping),
        source=source,
        max_body_chars=settings.max_body_chars,
        file_format=file_format,
    )
    with reader, session_scope(get_engine(settings.resolved_database_url)) as session:
        importer = Importer(
            session,
            _publisher(settings),
            settings.backfill_queue,
            rate=rate,
            dry_run=dry_run,
            on_invalid=ui.invalid,
            on_progress=lambda c: ui.update(c, reader.bytes_read),
        )
        try:
            with ui.bar(f"importing {path.name}", total=reader.size or None):
                importer.run(reader)
        finally:
            title = f"backfill of {path} onto {settings.backfill_queue}"
            ui.summary(title, importer.counts, dry_run)


def _reprocess(
    settings: Settings, flt: ReprocessFilter, rate: float, dry_run: bool, ui: BackfillDisplay
) -> None:
    queue = settings.backfill_queue
    info = flt.describe() | {"queue": queue}
    key = marker_key(info | {"database": settings.resolved_database_url})
    marker = RunMarker.open(settings.data_dir / "backfill", key, utcnow())
    if marker.resumed:
        ui.note(
            f"resuming the unfinished run started {marker.started_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(delete {marker.path} to start over)"
        )
    with session_scope(get_engine(settings.resolved_database_url)) as session:
        total = count_candidates(session, flt, marker.started_at, queue)
        if not dry_run and total:
            marker.save(info)
        counts = ReprocessCounts()
        try:
            with ui.bar("re-processing", total=total):
                reprocess(
                    session,
                    flt,
                    _publisher(settings),
                    queue,
                    started_at=marker.started_at,
                    rate=rate,
                    dry_run=dry_run,
                    counts=counts,
                    on_progress=lambda c: ui.update(c, c.matched),
                )
        finally:
            ui.summary(f"re-process onto {queue}", counts, dry_run)
    if not dry_run:
        marker.finish()


def backfill(
    file: Path | None = typer.Argument(
        None,
        show_default=False,
        help="CSV or JSONL file to import. Without it, re-process stored tickets chosen by "
        "--status/--since/--until/--category/--model-version.",
    ),
    mapping: str | None = typer.Option(
        None,
        "--map",
        metavar="FIELD=COLUMN,...",
        help="Which file column fills which ticket field, e.g. 'body=text,id=ticket_id'. "
        "Fields: body (text), subject, external_id (id), customer_email (email), "
        "customer_name (name), received_at (date), category. Default: columns named "
        "like the fields.",
    ),
    source: str = typer.Option(
        "backfill",
        help="Source of imported tickets; with the id column it makes reruns idempotent.",
    ),
    file_format: str = typer.Option("auto", "--format", help="csv, jsonl or auto (by suffix)."),
    status: list[TicketStatus] | None = typer.Option(
        None,
        help=f"Re-process tickets in this status (repeat for more; default: "
        f"{', '.join(DEFAULT_STATUSES)}).",
    ),
    since: str | None = typer.Option(
        None,
        help="Re-process tickets received at/after this ISO date (UTC unless an offset is given).",
    ),
    until: str | None = typer.Option(None, help="... and received before this ISO date."),
    category: str | None = typer.Option(None, help="... whose latest result has this category."),
    model_version: str | None = typer.Option(
        None, help="... whose latest result came from this classifier version or draft model."
    ),
    rate: float = typer.Option(0.0, min=0.0, help="Enqueue at most N tickets/s (0: no limit)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate and count only: nothing is stored or enqueued."
    ),
) -> None:
    """Import ticket history, or re-process stored tickets, on the low-priority queue."""
    filters = (status, since, until, category, model_version)
    selecting = any(f is not None for f in filters)
    if file is None and not selecting:
        _usage(
            "give a FILE to import, or --status/--since/--until/--category/"
            "--model-version to re-process stored tickets"
        )
    if file is not None and selecting:
        _usage(
            "--status/--since/--until/--category/--model-version choose "
            "stored tickets to re-process; they do not apply to a FILE"
        )
    if file is None and (mapping is not None or file_format != "auto" or source != "backfill"):
        _usage("--map, --source and --format apply to a FILE import")
    ui = BackfillDisplay()
    settings = settings_or_exit()
    try:
        if file is not None:
            _import(settings, file, mapping, source, file_format, rate, dry_run, ui)
        else:
            flt = ReprocessFilter(
                statuses=tuple(status) if status else DEFAULT_STATUSES,
                since=_when(since, "--since"),
                until=_when(until, "--until"),
                category=category,
                model_version=model_version,
            )
            _reprocess(settings, flt, rate, dry_run, ui)
    except ConfigError as err:  # like the other commands: a bad setting is a usage error
        ui.err.print(f"error: {err}")
        raise typer.Exit(2) from None
    except TicketflowError as err:
        ui.err.print(f"error: {err}")
        raise typer.Exit(1) from None
    except SQLAlchemyError as err:
        detail = getattr(err, "orig", None) or err
        ui.err.print(f"error: database: {detail}".strip())
        ui.err.print("check TICKETFLOW_DATABASE_URL and run `ticketflow db upgrade`")
        raise typer.Exit(1) from None
