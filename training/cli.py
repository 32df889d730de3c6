"""`ticketflow train` and `ticketflow eval`: thin commands over ``trainer`` and ``evaluation``.

torch and the model code are imported inside the command bodies, so registering these
commands keeps the root CLI (and `ticketflow api`) free of torch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from shared.config import settings_or_exit
from shared.errors import ConfigError, InputError
from shared.taxonomy import LABEL_FIELDS

if TYPE_CHECKING:
    from training.data import LabelledFile

console = Console(stderr=True)

FILE_HELP = "Labelled .csv (with a header) or .jsonl file."
TEXT_HELP = "Text column(s); several, comma-separated, are joined (e.g. subject,body)."
FIELD_HELP = (
    "FIELD or FIELD=COLUMN, repeatable (fields: category, priority, sentiment). "
    "Default: every column named like a field."
)


def _fail(err: Exception) -> typer.Exit:
    typer.echo(f"error: {err}", err=True)
    return typer.Exit(2)


def _file_examples(file: Path, text_column: str, field: list[str]) -> LabelledFile:
    """The file's examples; says on stderr how many rows were skipped, and why."""
    from training.data import describe_skipped, load_labelled, parse_field_specs

    fields = parse_field_specs(field) if field else None
    columns = [c.strip() for c in text_column.split(",") if c.strip()]
    loaded = load_labelled(file, columns, fields)
    if loaded.skipped_rows:
        _say(f"{file}: {describe_skipped(loaded.skipped)}")
    return loaded


def _say(message: str) -> None:
    """One plain line on stderr: rich would wrap it and read [brackets] in labels as markup."""
    typer.echo(message, err=True)


def _check_rate(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number, not {value}")


def train(
    file: Path | None = typer.Option(None, "--file", help=FILE_HELP),
    from_db: bool = typer.Option(
        False,
        "--from-db",
        help="Also train on reviewed tickets "
        "(corrected labels win; approvals confirm the predictions).",
    ),
    text_column: str = typer.Option("text", help=TEXT_HELP),
    field: list[str] = typer.Option([], "--field", "-f", help=FIELD_HELP),
    epochs: int | None = typer.Option(
        None, min=1, help="Passes over the data; default: by data size."
    ),
    lr: float = typer.Option(8e-5, help="Encoder learning rate."),
    batch_size: int = typer.Option(32, min=1),
    max_length: int = typer.Option(128, min=8, help="Tokens per text while training."),
    calib_fraction: float = typer.Option(
        0.1,
        min=0.0,
        max=0.5,
        help="Share of each label held out to fit the confidence temperature "
        "(at most 500 examples in all).",
    ),
    frozen: bool = typer.Option(False, help="Keep the encoder frozen; train the heads only."),
    sam_rho: float = typer.Option(
        0.0,
        min=0.0,
        max=1.0,
        help="Sharpness-aware minimisation radius (0 = off); twice the training time. "
        "0.05 helps with few examples a label (see docs/benchmarks.md).",
    ),
    seed: int = typer.Option(0),
    threads: int = typer.Option(0, min=0, help="CPU threads for torch; 0 = torch's default."),
    publish: bool = typer.Option(
        True, help="Point LATEST at the new version (workers pick it up within a minute)."
    ),
) -> None:
    """Train the classification heads and save them as a new classifier version."""
    settings = settings_or_exit()
    import torch

    from shared.db import get_engine, session_scope
    from training.data import parse_field_specs
    from training.finetune import FinetuneConfig
    from training.from_reviews import review_examples
    from training.trainer import train_version
    from worker.engine.device import pick_device

    if threads:
        torch.set_num_threads(threads)
    try:
        if file is None and not from_db:
            raise ConfigError("give --file FILE, --from-db, or both")
        _check_rate("--lr", lr)
        fields = tuple(parse_field_specs(field)) if field else LABEL_FIELDS
        loaded = _file_examples(file, text_column, field) if file else None
        examples = loaded.examples if loaded else []
        sources = [str(file)] if file else []
        if from_db:
            with session_scope(get_engine(settings.resolved_database_url)) as session:
                reviewed = review_examples(session, fields)
            console.print(f"{len(reviewed)} reviewed ticket(s) from the database")
            examples += reviewed
            sources.append("reviews")
        cfg = FinetuneConfig(
            epochs=epochs,
            lr_encoder=lr,
            batch_size=batch_size,
            max_length=max_length,
            freeze_encoder=frozen,
            sam_rho=sam_rho,
            seed=seed,
        )
        report = train_version(
            examples,
            settings.encoder_model,
            settings.heads_dir,
            pick_device(settings.device),
            cfg,
            fields=fields,
            calib_fraction=calib_fraction,
            publish=publish,
            source=" + ".join(sources),
            progress=_say,
            skipped=loaded.skipped if loaded else None,
        )
    except (ConfigError, InputError) as err:
        raise _fail(err) from None
    table = Table(title=f"classifier version {report.version} ({report.seconds:.0f}s)")
    for col in ("field", "labels", "train", "calib", "calib acc", "1/T", "NLL before→after"):
        table.add_column(col, justify="left" if col == "field" else "right")
    for f, s in report.fields.items():
        nll = (
            f"{s.calib_nll_before:.3f}→{s.calib_nll_after:.3f}"
            if s.calib_nll_before is not None and s.calib_nll_after is not None
            else "-"
        )
        acc = f"{s.calib_accuracy:.3f}" if s.calib_accuracy is not None else "-"
        table.add_row(
            f,
            str(s.labels),
            str(s.train_examples),
            str(s.calib_examples),
            acc,
            f"{s.scale:.2f}",
            nll,
        )
    Console().print(table)
    if report.carried_over:
        console.print(f"kept from the previous version: {', '.join(report.carried_over)}")
    if report.relabelled:
        console.print(
            "retrained on the previous version's confident predictions: "
            + ", ".join(f"{f} ({n} examples)" for f, n in report.relabelled.items())
        )
    state = "published (LATEST)" if report.published else "saved, not published"
    console.print(f"{state}: {report.path}")


def eval_cmd(
    file: Path = typer.Option(..., "--file", help=FILE_HELP),
    text_column: str = typer.Option("text", help=TEXT_HELP),
    field: list[str] = typer.Option([], "--field", "-f", help=FIELD_HELP),
    version: str = typer.Option("", help="Classifier version; default: the one LATEST names."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON only."),
    top_confused: int = typer.Option(10, min=0, help="How many confused pairs to list."),
    threads: int = typer.Option(0, min=0, help="CPU threads for torch; 0 = torch's default."),
) -> None:
    """Score the classifier on a labelled file: accuracy, macro-F1, per class, calibration."""
    settings = settings_or_exit()
    import torch

    from shared.taxonomy import load_taxonomy
    from training.evaluation import eval_warnings, evaluate_examples
    from worker.engine.classifier.artifacts import latest_version, load_artifact
    from worker.engine.classifier.classifier import TicketClassifier
    from worker.engine.device import pick_device

    if threads:
        torch.set_num_threads(threads)
    try:
        loaded = _file_examples(file, text_column, field)
        examples = loaded.examples
        if not examples:
            raise InputError(f"{file}: no row has both text and a label, nothing to score")
        wanted = version or latest_version(settings.heads_dir)
        if wanted:  # an unusable version is an error here, not a quiet fall back to zero-shot
            load_artifact(settings.heads_dir, wanted)
        clf = TicketClassifier(
            settings.encoder_model,
            load_taxonomy(settings.taxonomy_file),
            settings.heads_dir,
            pick_device(settings.device),
        )
        if wanted and clf.version != wanted:
            clf.use_version(wanted)
    except (ConfigError, InputError, FileNotFoundError) as err:
        raise _fail(err) from None
    warnings = eval_warnings(clf, examples)
    for w in warnings:
        _say(f"warning: {w}")
    reports = evaluate_examples(clf, examples, top_confused=top_confused)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "version": clf.version,
                    "encoder": clf.model_id,
                    "file": str(file),
                    "examples": len(examples),
                    "skipped_rows": loaded.skipped,
                    "warnings": warnings,
                    "fields": {f: r.to_dict() for f, r in reports.items()},
                },
                indent=2,
            )
        )
        return
    from training.report import render_reports

    render_reports(Console(), clf.version, reports)
