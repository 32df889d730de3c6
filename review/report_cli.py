"""`ticketflow report`: the insights of ``review.insights`` as tables, or JSON for a script."""

from __future__ import annotations

import typer

from shared.config import settings_or_exit


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def report_cmd(
    days: int = typer.Option(28, min=1, max=3660, help="Look back this many days."),
    by: str = typer.Option("week", help="Group intents and sentiment per 'day' or 'week'."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Intents and sentiment over time, draft acceptance and edits, label corrections, and
    where the knowledge base has no answer."""
    if by not in ("day", "week"):
        typer.echo(f"error: --by must be 'day' or 'week', not {by!r}", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from review.insights import build_insights
    from shared.db import get_engine

    try:
        with Session(get_engine(settings.resolved_database_url)) as session:
            data = build_insights(session, days, by)  # type: ignore[arg-type]
    except SQLAlchemyError as err:
        first = (str(getattr(err, "orig", None) or err).strip().splitlines() or ["?"])[0]
        typer.echo(f"error: database: {first}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(data.model_dump_json(indent=2))
        return

    out = Console()
    out.print(
        f"[bold]{data.tickets} ticket(s)[/bold] triaged from {data.since:%Y-%m-%d} "
        f"to {data.until:%Y-%m-%d}"
    )
    for title, rows in (("Intents", data.intents), ("Sentiment", data.sentiment)):
        t = Table(title=f"{title} per {by}")
        for c in (by, "label", "tickets"):
            t.add_column(c)
        for r in rows:
            t.add_row(str(r.period), r.label, str(r.tickets))
        out.print(t)
    t = Table(title="Drafts per category and language")
    for c in (
        "category",
        "lang",
        "reviewed",
        "approved",
        "edited",
        "rejected",
        "accepted",
        "edit dist.",
    ):
        t.add_column(c)
    for d in data.drafts:
        dist = "-" if d.mean_edit_distance is None else f"{d.mean_edit_distance:.2f}"
        t.add_row(
            d.category, d.language, str(d.reviewed), str(d.approved), str(d.edited),
            str(d.rejected), _pct(d.acceptance_rate), dist,
        )  # fmt: skip
    out.print(t)
    t = Table(title="Label corrections per predicted category (weakest first)")
    for c in ("category", "reviewed", "corrected", "rate", "corrected to", "other labels"):
        t.add_column(c)
    for k in data.corrections:
        to = ", ".join(f"{c} ({n})" for c, n in k.corrected_to.items()) or "-"
        t.add_row(
            k.category, str(k.reviewed), str(k.category_corrected), _pct(k.correction_rate),
            to, str(k.other_labels_corrected),
        )  # fmt: skip
    out.print(t)
    t = Table(title="No relevant help article (write these next)")
    for c in ("category", "tickets", "without article", "share", "topic words", "e.g. tickets"):
        t.add_column(c)
    for g in data.knowledge_gaps:
        ids = ", ".join(str(i) for i in g.example_ticket_ids)
        topic = ", ".join(g.topic_words) or "-"
        t.add_row(g.category, str(g.tickets), str(g.without_article), _pct(g.share), topic, ids)
    out.print(t)
