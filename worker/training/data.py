"""Labelled examples from CSV or JSONL files, and the splits training needs.

A row becomes an ``Example``: the text the classifier sees and a label per field. A field
missing from a row (empty cell, null) is simply not trained on that row, so one file can train
several heads even when not every row is labelled for every field.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

TRAINABLE_FIELDS = ("category", "priority", "sentiment")
TEXT_JOIN = "\n"  # subject and body joined as worker.prompting.classification_text does


@dataclass(frozen=True)
class Example:
    text: str
    labels: dict[str, str]  # field -> label; fields absent here are not trained on this row


def parse_field_specs(specs: Sequence[str]) -> dict[str, str]:
    """``["category=intent", "priority"]`` -> ``{"category": "intent", "priority": "priority"}``."""
    out = {}
    for spec in specs:
        field, _, column = spec.partition("=")
        field, column = field.strip(), (column or field).strip()
        if field not in TRAINABLE_FIELDS:
            raise ConfigError(
                f"--field {spec!r}: field must be one of {', '.join(TRAINABLE_FIELDS)}"
            )
        out[field] = column
    return out


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``.csv`` (with a header) or a ``.jsonl`` file (one object a line)."""
    if not path.exists():
        raise ConfigError(f"no such file: {path}")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = []
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise ConfigError(f"{path}:{n}: not a JSON object: {err}") from None
        return rows
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def load_examples(
    path: Path, text_columns: Sequence[str] = ("text",), fields: dict[str, str] | None = None
) -> list[Example]:
    """Examples from a file; ``fields`` maps field -> label column (default: columns named
    like a trainable field). Several text columns are joined (e.g. ``subject,body``)."""
    rows = read_rows(path)
    if not rows:
        raise ConfigError(f"{path} has no rows")
    columns = set().union(*(r.keys() for r in rows))
    missing = [c for c in text_columns if c not in columns]
    if missing:
        raise ConfigError(
            f"{path}: no text column {', '.join(missing)} (columns: "
            f"{', '.join(sorted(columns))}); use --text-column"
        )
    if fields is None:
        fields = {f: f for f in TRAINABLE_FIELDS if f in columns}
    absent = [c for c in fields.values() if c not in columns]
    if not fields or absent:
        raise ConfigError(
            f"{path}: no label column {', '.join(absent) or 'for any field'} "
            f"(columns: {', '.join(sorted(columns))}); use --field FIELD=COLUMN"
        )
    out = []
    for row in rows:
        text = TEXT_JOIN.join(_cell(row, c) for c in text_columns).strip()
        labels = {f: _cell(row, c) for f, c in fields.items() if _cell(row, c)}
        if text and labels:
            out.append(Example(text, labels))
    return out


def labels_of(examples: Sequence[Example], field: str) -> list[str]:
    """Sorted label set of ``field`` among ``examples``."""
    return sorted({e.labels[field] for e in examples if field in e.labels})


def _strata(examples: Sequence[Example]) -> dict[str, list[int]]:
    """Index groups by the first trained field's label (category where present)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        key = next((f"{f}={e.labels[f]}" for f in TRAINABLE_FIELDS if f in e.labels), "")
        groups[key].append(i)
    return groups


def stratified_split(
    examples: Sequence[Example], fraction: float, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """(rest, held_out) with about ``fraction`` of each label held out.

    A label keeps at least one example on the training side, so a rare label is never
    held out entirely; labels with a single example are not held out at all.
    """
    rng = random.Random(seed)
    held: list[int] = []
    for _, idx in sorted(_strata(examples).items()):
        idx = idx[:]
        rng.shuffle(idx)
        k = min(round(len(idx) * fraction), len(idx) - 1)
        held.extend(idx[:k])
    held_set = set(held)
    rest = [e for i, e in enumerate(examples) if i not in held_set]
    return rest, [examples[i] for i in sorted(held_set)]


def sample_per_label(examples: Sequence[Example], k: int, seed: int = 0) -> list[Example]:
    """At most ``k`` examples of each label (few-shot experiments)."""
    rng = random.Random(seed)
    keep: list[int] = []
    for _, idx in sorted(_strata(examples).items()):
        keep.extend(rng.sample(idx, min(k, len(idx))))
    return [examples[i] for i in sorted(keep)]
