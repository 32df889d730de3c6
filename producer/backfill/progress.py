"""The terminal side of a backfill: a live bar with the counts, invalid lines, a summary.

Progress and per-line problems go to stderr, the summary to stdout, so ``> summary.txt`` keeps
the result. The bar is drawn only on a terminal; logs and CI get the lines and the summary.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from producer.backfill.reader import InvalidRow


def format_counts(counts: Any) -> str:
    return "  ".join(f"{name} {value:,}" for name, value in asdict(counts).items())


class _CountsProgress(Progress):
    """The bar on one line and the counts on the next, so both fit an 80-column terminal."""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            yield Text("  " + task.fields.get("counts", ""))


class BackfillDisplay:
    def __init__(self, out: Console | None = None, err: Console | None = None) -> None:
        self.out = out or Console(soft_wrap=True, markup=False, highlight=False)
        self.err = err or Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._started = time.monotonic()

    @contextmanager
    def bar(self, description: str, total: float | None) -> Iterator[BackfillDisplay]:
        self._started = time.monotonic()
        self._progress = _CountsProgress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=self.err,
            disable=not self.err.is_terminal,
        )
        self._task = self._progress.add_task(description, total=total, counts="")
        try:
            with self._progress:
                yield self
        finally:
            self._progress = None

    def update(self, counts: Any, completed: float) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, counts=format_counts(counts))

    def invalid(self, row: InvalidRow) -> None:
        self.note(f"line {row.line}: {row.reason}")

    def note(self, message: str) -> None:
        console = self._progress.console if self._progress is not None else self.err
        console.print(message)

    def summary(self, title: str, counts: Any, dry_run: bool) -> None:
        elapsed = time.monotonic() - self._started
        values = asdict(counts)
        suffix = " (dry run: nothing stored or enqueued)" if dry_run else ""
        self.out.print(f"{title}{suffix}")
        width = max(len(k) for k in values)
        for name, value in values.items():
            self.out.print(f"  {name:<{width}}  {value:>9,}")
        rate = values.get("enqueued", 0) / elapsed if elapsed > 0 else 0.0
        self.out.print(f"  {'time':<{width}}  {elapsed:>8.1f}s  ({rate:,.0f} tickets/s enqueued)")
