"""JSON Lines input shared by the article and template importers: one object per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from shared.errors import InputError


def json_objects(text: str, origin: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(origin:line, object)`` for each non-blank line; a line that is not a JSON object
    is an InputError naming the file and line, so one bad row rejects the whole import."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{origin}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{where}: invalid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
        yield where, record
