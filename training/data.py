"""Labelled examples from CSV or JSONL files, and the splits training needs.

A row becomes an ``Example``: the text the classifier sees and a label per field. A field
missing from a row (empty cell, null) is simply not trained on that row, so one file can train
several heads even when not every row is labelled for every field.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.errors import InputError
from shared.models import TriageResult, storable_text
from shared.taxonomy import LABEL_FIELDS
from training.rows import Row, read_rows

TEXT_JOIN = "\n"  # subject and body joined as worker.drafting.prompting.classification_text does


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
        if field not in LABEL_FIELDS:
            raise InputError(f"--field {spec!r}: field must be one of {', '.join(LABEL_FIELDS)}")
        out[field] = column
    return out


# A label ends up in these columns (TriageResult, Review.corrected_*), so one that cannot be
# stored is refused here, not by every insert once the version is published.
LABEL_MAX_CHARS = {f: int(TriageResult.__table__.c[f].type.length) for f in LABEL_FIELDS}  # type: ignore[attr-defined]

NO_TEXT = "without text"
NO_LABEL = "without a label"


@dataclass
class LabelledFile:
    examples: list[Example]
    skipped: dict[str, int]  # reason -> rows not used

    @property
    def skipped_rows(self) -> int:
        return sum(self.skipped.values())


def describe_skipped(skipped: Mapping[str, int]) -> str:
    """``"3 row(s) skipped: 2 without text, 1 without a label"``, or "" when none were."""
    parts = [f"{n} {reason}" for reason, n in skipped.items() if n]
    if not parts:
        return ""
    return f"{sum(skipped.values())} row(s) skipped: {', '.join(parts)}"


def _cell(row: Row, column: str, where: str) -> str:
    value = row.cells.get(column)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise InputError(
            f"{where}: column {column!r} holds a JSON {type(value).__name__}, not text"
        )
    return str(value).strip()


def _label(row: Row, field: str, column: str, where: str) -> str:
    label = _cell(row, column, where)
    try:
        storable_text(label)
    except ValueError as err:
        raise InputError(f"{where}: {field} label {label!r} {err}") from None
    if len(label) > LABEL_MAX_CHARS[field]:
        raise InputError(
            f"{where}: {field} label {label[:40]!r}... has {len(label)} characters; "
            f"the database stores at most {LABEL_MAX_CHARS[field]}"
        )
    return label


def load_labelled(
    path: Path, text_columns: Sequence[str] = ("text",), fields: dict[str, str] | None = None
) -> LabelledFile:
    """Examples from a file, and how many rows were skipped for want of text or a label.

    ``fields`` maps field -> label column (default: columns named like a trainable field).
    Several text columns are joined (e.g. ``subject,body``). Text or a label the database
    could not store fails the whole file, naming the line.
    """
    rows = read_rows(path)
    if not rows:
        raise InputError(f"{path} has no rows")
    columns = set().union(*(r.cells.keys() for r in rows))
    missing = [c for c in text_columns if c not in columns]
    if missing:
        raise InputError(
            f"{path}: no text column {', '.join(missing)} (columns: "
            f"{', '.join(sorted(columns))}); use --text-column"
        )
    if fields is None:
        fields = {f: f for f in LABEL_FIELDS if f in columns}
    absent = [c for c in fields.values() if c not in columns]
    if not fields or absent:
        raise InputError(
            f"{path}: no label column {', '.join(absent) or 'for any field'} "
            f"(columns: {', '.join(sorted(columns))}); use --field FIELD=COLUMN"
        )
    out = LabelledFile([], {NO_TEXT: 0, NO_LABEL: 0})
    for row in rows:
        where = f"{path}:{row.line}"
        text = TEXT_JOIN.join(_cell(row, c, where) for c in text_columns).strip()
        try:  # no stored ticket holds such text, and the tokenizer fails on a lone surrogate
            storable_text(text)
        except ValueError as err:
            raise InputError(f"{where}: text {err}") from None
        labels = {f: label for f, c in fields.items() if (label := _label(row, f, c, where))}
        if not text:
            out.skipped[NO_TEXT] += 1
        elif not labels:
            out.skipped[NO_LABEL] += 1
        else:
            out.examples.append(Example(text, labels))
    return out


def load_examples(
    path: Path, text_columns: Sequence[str] = ("text",), fields: dict[str, str] | None = None
) -> list[Example]:
    """The examples of ``load_labelled``, for callers that do not report skipped rows."""
    return load_labelled(path, text_columns, fields).examples


def labels_of(examples: Sequence[Example], field: str) -> list[str]:
    """Sorted label set of ``field`` among ``examples``."""
    return sorted({e.labels[field] for e in examples if field in e.labels})


def _stratum(example: Example) -> str:
    """The first trained field's label (category where present)."""
    return next((f"{f}={example.labels[f]}" for f in LABEL_FIELDS if f in example.labels), "")


def _strata(examples: Sequence[Example]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        groups[_stratum(e)].append(i)
    return groups


def same_text_key(text: str) -> str:
    """Texts equal up to case and spacing are one text to the split: the encoder barely tells
    them apart, so one on each side would score the held-out part as if seen."""
    return " ".join(text.casefold().split())


def stratified_split(
    examples: Sequence[Example], fraction: float, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """(rest, held_out) with about ``fraction`` of each label held out.

    Examples with the same text (``same_text_key``) go to the same side, so the held-out part
    is unseen. A label keeps at least one text on the training side, so a rare label is never
    held out entirely; labels with a single text are not held out at all.
    """
    rng = random.Random(seed)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        groups[same_text_key(e.text)].append(i)
    strata: dict[str, list[list[int]]] = defaultdict(list)
    for idx in groups.values():  # a text's group joins the stratum of its first example
        strata[_stratum(examples[idx[0]])].append(idx)
    held: list[int] = []
    for _, stratum in sorted(strata.items()):
        rng.shuffle(stratum)
        want = round(sum(map(len, stratum)) * fraction)
        taken = 0
        for group in stratum[:-1]:  # the last group stays for training
            if taken + len(group) <= want:
                held.extend(group)
                taken += len(group)
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
