"""The rows of a labelled file (CSV with a header, or JSON Lines), each with its line number.

These files come from people and spreadsheets, so every way one can be unreadable (not UTF-8,
a line that is not a JSON object, more cells than the header) is one ``InputError`` naming
the file and line, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.csv_problems import csv_problem
from shared.errors import InputError

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class Row:
    line: int  # where the row starts in the file (1-based), for messages
    cells: dict[str, Any]


def read_rows(path: Path) -> list[Row]:
    """Rows of a ``.csv`` (with a header) or a ``.jsonl`` file (one object a line)."""
    text = _read_text(path)
    if path.suffix.lower() in JSON_SUFFIXES:
        return _json_rows(path, text)
    return _csv_rows(path, text)


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8-sig")  # the BOM Excel writes is not part of the first column
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8"
        ) from None


def _json_rows(path: Path, text: str) -> list[Row]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{n}: not a JSON object: {err}") from None
        if not isinstance(value, dict):
            raise InputError(
                f"{path}:{n}: not a JSON object but a {type(value).__name__}; "
                "the file must hold one {...} object a line (JSON Lines)"
            )
        rows.append(Row(n, value))
    return rows


def _csv_rows(path: Path, text: str) -> list[Row]:
    # No cell is longer than the file; the csv module's default cap (128 KiB) would refuse a
    # long ticket body. The limit is process-wide, so it is only ever raised.
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    start = 1
    try:
        header = [h.strip() for h in next(reader, [])]
        start = reader.line_num + 1
        for cells in reader:
            if len(cells) > len(header):
                raise InputError(
                    f"{path}:{start}: {len(cells)} cells but the header names {len(header)} "
                    "columns; quote cells that hold commas"
                )
            if cells:  # a blank line
                rows.append(Row(start, dict(zip(header, cells, strict=False))))
            start = reader.line_num + 1
    except csv.Error as err:
        raise InputError(f"{path}:{start}: {csv_problem(err, start, reader.line_num)}") from None
    return rows
