"""One schema for every benchmark's ``--json`` output, so ``docs/benchmarks.md`` is built
from data (``bench/render_docs.py``) and never retyped by hand.

A result is one finished run: ``benchmark`` (a stable id), ``title``, ``date``, ``command`` (what
reproduces it), ``machine``, ``columns`` and ``rows`` (the table), ``notes`` and optionally
``raw`` (everything the script measured, for later analysis). Keep one file per finished run in
``bench/results/``; commit it once, never per draw.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from datetime import date
from pathlib import Path
from typing import Any

KEYS = ("benchmark", "title", "date", "command", "machine", "columns", "rows", "notes")


def machine() -> str:
    """What the figures depend on: CPU model and cores (and the GPU, where torch sees one)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def write(
    path: Path,
    *,
    benchmark: str,
    title: str,
    columns: list[str],
    rows: list[list[Any]],
    notes: str = "",
    raw: Any = None,
) -> dict[str, Any]:
    """Write one result file; the command is the one this process was started with."""
    result: dict[str, Any] = {
        "benchmark": benchmark,
        "title": title,
        "date": date.today().isoformat(),
        "command": "python " + shlex.join(sys.argv),
        "machine": machine(),
        "columns": columns,
        "rows": rows,
        "notes": notes,
    }
    if raw is not None:
        result["raw"] = raw
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


def load(path: Path) -> dict[str, Any]:
    """A result file, checked against the schema so a broken file fails loudly."""
    data = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    width = len(data["columns"])
    for i, row in enumerate(data["rows"], 1):
        if len(row) != width:
            raise ValueError(f"{path}: row {i} has {len(row)} cells for {width} columns")
    return data
