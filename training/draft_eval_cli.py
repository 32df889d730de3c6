"""``ticketflow eval-drafts``: draft quality on a labelled file (before/after) or on reviews."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import typer

from shared.config import settings_or_exit
from shared.errors import ConfigError, InputError

SAMPLES = Path(str(resources.files("ticketflow").joinpath("samples")))
COLUMNS = (
    ("n", "n"),
    ("violation_rate", "violations"),
    ("unflagged_contacts", "unflagged contacts"),
    ("unflagged_placeholders", "unflagged placeholders"),
    ("language_match", "language match"),
    ("citation_rate", "cites"),
    ("cosine", "cosine"),
    ("rouge_l", "ROUGE-L"),
    ("words", "words"),
    ("approval_rate", "approved unedited"),
    ("edit_distance", "edit distance"),
)


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    for mode, groups in report["modes"].items():
        table = Table(title=f"eval-drafts: {mode}")
        table.add_column("group")
        for _, title in COLUMNS:
            table.add_column(title, justify="right")
        for group, figures in groups.items():
            table.add_row(group, *(_fmt(figures.get(k)) for k, _ in COLUMNS))
        console.print(table)
    similar = report.get("similar_reply")
    if similar and similar.get("n"):
        console.print(f"Tickets with a similar approved reply or template: {similar['n']}")
        for metric in ("cosine", "rouge_l"):
            m = similar[metric]
            console.print(
                f"  {metric}: plain draft {m['plain_draft']:.3f}, aided draft "
                f"{m['aided_draft']:.3f} ({m['aided_draft_vs_plain']}x), suggestion "
                f"{m['suggestion']:.3f} ({m['suggestion_vs_plain']}x)"
            )


def eval_drafts(
    file: Path = typer.Option(
        SAMPLES / "eval" / "tickets.jsonl", "--file", help="JSONL tickets with references."
    ),
    approved: Path | None = typer.Option(
        SAMPLES / "eval" / "approved.jsonl", help="JSONL approved replies (examples)."
    ),
    templates: list[Path] = typer.Option(
        [SAMPLES / "templates"], "--templates", help="Reply templates (Markdown/JSONL)."
    ),
    kb: list[Path] = typer.Option([SAMPLES / "kb"], "--kb", help="Help articles."),
    from_db: bool = typer.Option(False, "--from-db", help="Score the database's reviews."),
    limit: int = typer.Option(1000, min=1, help="With --from-db: newest reviews to score."),
    max_new_tokens: int = typer.Option(0, min=0, help="Draft length; 0: the setting."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the full report here."),
) -> None:
    """Draft quality: guardrail violations, language match, citations, similarity to the
    reference (encoder cosine, ROUGE-L), length; on reviews also approval rate and edits."""
    settings = settings_or_exit()
    if max_new_tokens:
        settings = settings.model_copy(update={"max_new_tokens": max_new_tokens})
    from training.draft_eval import load_eval_file, run_file_eval, score_reviews
    from worker.drafting.draft_aids import build_draft_aids
    from worker.engine.factory import build_engine

    try:
        tickets = None if from_db else load_eval_file(file)
        engine = build_engine(settings)
        if from_db:
            from shared.db import get_engine

            aids = build_draft_aids(settings, get_engine(settings.resolved_database_url),
                                    engine, engine)  # fmt: skip
            detect = aids.detect_language or (lambda _t: "und")
            report = score_reviews(
                get_engine(settings.resolved_database_url), engine, detect, limit
            )
        else:
            assert tickets is not None
            report = run_file_eval(
                engine,
                lambda db: build_draft_aids(settings, db, engine, engine),
                tickets,
                kb=kb,
                templates=templates,
                approved=approved,
                batch_size=settings.batch_size,
                progress=lambda line: typer.echo(line, err=True),
            )
    except (ConfigError, InputError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    print_report(report)
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        typer.echo(f"report written to {json_path}", err=True)
