"""Turn a CSV or JSONL export into validated tickets, one row at a time.

A bad row is not fatal: it becomes an ``InvalidRow`` with its line number so a 100,000-row
import reports the few broken lines instead of dying on the first. Only problems with the file
as a whole (missing, unknown format, a mapped column the file does not have) raise
``InputError``, before anything is stored.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from pydantic import ValidationError

from producer.backfill.mapping import resolve_mapping
from shared.config import default
from shared.csv_problems import csv_problem
from shared.errors import InputError
from shared.models import TicketCreate

Format = Literal["csv", "jsonl"]
SOURCE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
JSONL_PEEK_LINES = 100  # objects sampled to check that mapped keys exist at all


# A row that became a ticket; ``category`` is the file's label, kept as metadata only.
@dataclass(frozen=True)
class ImportRow:
    line: int
    ticket: TicketCreate
    category: str | None = None


# A row that was skipped, and why; the import goes on.
@dataclass(frozen=True)
class InvalidRow:
    line: int
    reason: str


Row = ImportRow | InvalidRow


def detect_format(path: Path, requested: str = "auto") -> Format:
    if requested in ("csv", "jsonl"):
        return requested  # type: ignore[return-value]
    if requested != "auto":
        raise InputError(f"--format {requested!r}: use csv, jsonl or auto")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise InputError(f"cannot tell the format of {path.name}; pass --format csv or --format jsonl")


def content_id(values: Mapping[str, object]) -> str:
    """A stable id for a row without one: the same row always maps to the same ticket."""
    canonical = json.dumps({k: values[k] for k in sorted(values)}, ensure_ascii=False, default=str)
    # surrogatepass: a lone surrogate must not crash here; the row's validation rejects it.
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _text(value: object, field: str) -> str | None:
    """A cell as text; empty cells are absent, nested JSON is an error."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise ValueError(f"{field} must be text, not a JSON {type(value).__name__}")
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def build_row(
    line: int,
    values: Mapping[str, object],
    mapping: Mapping[str, str],
    source: str,
    max_body_chars: int,
) -> Row:
    """Validate one row against the mapping; never raises for bad data."""
    body_column = mapping["body"]
    if body_column not in values:
        return InvalidRow(line, f"no {body_column!r} field")
    try:
        fields = {f: _text(values.get(col), f) for f, col in mapping.items()}
    except ValueError as err:
        return InvalidRow(line, str(err))
    body = fields.pop("body")
    if body is None:
        return InvalidRow(line, f"body is empty (column {body_column!r})")
    if len(body) > max_body_chars:
        return InvalidRow(
            line, f"body has {len(body)} characters, over max_body_chars ({max_body_chars})"
        )
    category = fields.pop("category", None)
    data: dict[str, object] = {k: v.strip() for k, v in fields.items() if v is not None}
    data.update(source=source, body=body)
    if "received_at" in data:
        try:
            data["received_at"] = datetime.fromisoformat(str(data["received_at"]))
        except ValueError:
            return InvalidRow(line, f"received_at {data['received_at']!r} is not an ISO 8601 date")
    data.setdefault("external_id", content_id(values))
    try:
        ticket = TicketCreate.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return InvalidRow(line, f"{where}: {first['msg']}")
    return ImportRow(line, ticket, category)


def _decoded(fh: IO[bytes], reader: RowReader) -> Iterator[str]:
    """Lines as text, counting bytes for the progress bar; bad UTF-8 is marked, not fatal."""
    for number, raw in enumerate(fh, start=1):
        reader.bytes_read += len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            reader.undecodable.add(number)
            text = raw.decode("utf-8", errors="replace")
        yield text.removeprefix("\ufeff") if number == 1 else text


class RowReader:
    """Streams validated rows from one file; checks the mapping against it on open."""

    def __init__(
        self,
        path: Path,
        *,
        mapping: Mapping[str, str] | None = None,
        source: str = "backfill",
        max_body_chars: int = default("max_body_chars"),
        file_format: str = "auto",
    ) -> None:
        if not SOURCE_PATTERN.match(source):
            raise InputError(f"source {source!r} must be 1-64 letters, digits or _ . : -")
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if not path.is_file():
            raise InputError(f"{path}: not a file")
        self.path = path
        self.format = detect_format(path, file_format)
        self.source = source
        self.max_body_chars = max_body_chars
        self.size = path.stat().st_size
        self.bytes_read = 0
        self.undecodable: set[int] = set()
        self._header: list[str] = []
        self._fh: IO[bytes] | None = None
        try:
            if self.format == "csv":
                self.mapping = resolve_mapping(mapping, self._csv_header())
            else:
                where = f"the first {JSONL_PEEK_LINES} objects"
                self.mapping = resolve_mapping(mapping, self._jsonl_keys(), where=where)
        except OSError as err:
            raise InputError(f"{path}: {err.strerror or err}") from None

    def __enter__(self) -> RowReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __iter__(self) -> Iterator[Row]:
        self.close()
        self.bytes_read = 0
        self.undecodable.clear()
        self._fh = self.path.open("rb")
        rows = self._csv_rows() if self.format == "csv" else self._jsonl_rows()
        for row in rows:
            if isinstance(row, ImportRow) and row.line in self.undecodable:
                yield InvalidRow(row.line, "not valid UTF-8")
            else:
                yield row

    def _delimiter(self) -> str:
        return "\t" if self.path.suffix.lower() == ".tsv" else ","

    def _csv_header(self) -> list[str]:
        with self.path.open("rb") as fh:
            reader = csv.reader(_decoded(fh, self), delimiter=self._delimiter(), strict=True)
            try:
                header = next(reader, None)
            except csv.Error as err:
                problem = csv_problem(err, 1, reader.line_num)
                raise InputError(f"{self.path}: line 1 (the header): {problem}") from None
        if not header:
            raise InputError(f"{self.path}: empty file, expected a header row of column names")
        self._header = [h.strip() for h in header]
        return self._header

    def _jsonl_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if number > JSONL_PEEK_LINES:
                    break
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    keys.update(dict.fromkeys(obj))
        if not keys:
            raise InputError(f"{self.path}: no JSON object in the first {JSONL_PEEK_LINES} lines")
        return list(keys)

    def _csv_rows(self) -> Iterator[Row]:
        assert self._fh is not None
        reader = csv.reader(_decoded(self._fh, self), delimiter=self._delimiter(), strict=True)
        next(reader, None)  # header, checked on open
        width = len(self._header)
        while True:
            line = reader.line_num + 1  # a quoted field may span lines: report where it starts
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                yield InvalidRow(line, csv_problem(err, line, reader.line_num))
                continue
            if not cells:
                continue  # blank line
            if len(cells) != width:
                yield InvalidRow(line, f"has {len(cells)} columns, the header has {width}")
                continue
            values = dict(zip(self._header, cells, strict=True))
            yield build_row(line, values, self.mapping, self.source, self.max_body_chars)

    def _jsonl_rows(self) -> Iterator[Row]:
        assert self._fh is not None
        for line, text in enumerate(_decoded(self._fh, self), start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as err:
                yield InvalidRow(line, f"not valid JSON: {err}")
                continue
            if not isinstance(obj, dict):
                yield InvalidRow(line, f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield build_row(line, obj, self.mapping, self.source, self.max_body_chars)
