"""Readable tables of evaluation results, for a person at a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from training.metrics import ECE_BINS, FieldReport


def summary_table(version: str, reports: dict[str, FieldReport]) -> Table:
    table = Table(title=f"classifier version {version}")
    for col in ("field", "n", "accuracy", "macro-F1", f"ECE ({ECE_BINS} bins)", "mean conf."):
        table.add_column(col, justify="left" if col == "field" else "right")
    for f, r in reports.items():
        table.add_row(
            f,
            str(r.n),
            f"{r.accuracy:.4f}",
            f"{r.macro_f1:.4f}",
            f"{r.ece:.4f}",
            f"{r.mean_confidence:.4f}",
        )
    return table


def per_class_table(field: str, report: FieldReport) -> Table:
    """Worst recall first: the classes a reviewer will correct most often."""
    table = Table(title=f"{field}: per class")
    for col in ("label", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for c in sorted(report.per_class, key=lambda c: (c.recall, c.label)):
        table.add_row(
            c.label, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", str(c.support)
        )
    return table


def confused_table(field: str, report: FieldReport) -> Table:
    table = Table(title=f"{field}: most confused (true → predicted)")
    for col in ("true", "predicted", "count"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for c in report.confused:
        table.add_row(c.true, c.predicted, str(c.count))
    return table


def render_reports(console: Console, version: str, reports: dict[str, FieldReport]) -> None:
    console.print(summary_table(version, reports))
    for f, r in reports.items():
        console.print(per_class_table(f, r))
        if r.confused:
            console.print(confused_table(f, r))
