"""Builds docs/benchmarks.md from the results in bench/results/*.json (one file per run).

    python bench/render_docs.py            # rewrite docs/benchmarks.md
    python bench/render_docs.py --check    # exit 1 if docs/benchmarks.md is out of date

The page is never edited by hand: a benchmark's ``--json`` writes a result file (see
``bench/results_io.py``), and this script turns every file into one table with its date,
machine and the command that reproduces it. A test runs ``--check``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(BENCH))

from results_io import load  # noqa: E402

RESULTS = BENCH / "results"
DOC = BENCH.parent / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

Every figure here was measured in one run of a script in `bench/`, against a baseline or the
alternative a user would pick instead, on the machine named. This page is generated from
`bench/results/*.json` by `python bench/render_docs.py`; a benchmark run with `--json PATH`
writes such a file. Timings on the shared 2-core CPUs used so far vary about 2x between VMs,
so compare ratios measured in the same run, not absolute figures across tables.

The GPU figures (one H200, 2026-12-04) cover the transformers drafting backend on random-weight
models of the bundled and larger shapes; vLLM's CUDA path has not been run.
"""


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_one(result: dict[str, Any]) -> str:
    lines = [
        f"## {result['title']}",
        "",
        f"Measured {result['date']} on {result['machine']}.",
        "",
        "```bash",
        result["command"],
        "```",
        "",
        "| " + " | ".join(_cell(c) for c in result["columns"]) + " |",
        "|" + "---|" * len(result["columns"]),
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in result["rows"]]
    if result["notes"]:
        lines += ["", result["notes"]]
    return "\n".join(lines) + "\n"


# Every benchmark script, with the command that runs it; one without a result file is listed
# as not yet recorded, so the page never hides a benchmark that was never run.
SCRIPTS = {
    "bench/banking77_accuracy.py": (
        "Banking77 intent accuracy",
        "python bench/banking77_accuracy.py ../shared/data/banking77/train.csv --json PATH",
    ),
    "bench/batching_throughput.py": (
        "Micro-batching throughput",
        "python bench/batching_throughput.py --json PATH",
    ),
    "bench/delivery_throughput.py": (
        "Delivery throughput",
        "python bench/delivery_throughput.py --database-url URL --json PATH",
    ),
    "bench/redaction_banking77.py": (
        "Banking77 before/after personal-data redaction",
        "python bench/redaction_banking77.py ../shared/data/banking77/train.csv --json PATH",
    ),
    "bench/backfill_load.py": (
        "Backfill load",
        "python bench/backfill_load.py ../shared/data/banking77/train.csv --database-url URL "
        "--json PATH",
    ),
}


def render_missing(results: list[dict[str, Any]]) -> str:
    lines = []
    for script, (title, command) in SCRIPTS.items():
        if not any(script in r["command"] for r in results):
            lines += ["", f"## {title}", "", "Not yet recorded.", "", "```bash", command, "```"]
    return "\n".join(lines) + "\n" if lines else ""


def render(results_dir: Path = RESULTS) -> str:
    files = sorted(results_dir.glob("*.json"))
    results = [load(f) for f in files]
    return HEADER + "".join("\n" + render_one(r) for r in results) + render_missing(results)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--doc", type=Path, default=DOC)
    args = ap.parse_args(argv)
    text = render(args.results)
    if args.check:
        current = args.doc.read_text(encoding="utf-8") if args.doc.exists() else ""
        if current != text:
            print(f"{args.doc} is out of date: run python bench/render_docs.py", file=sys.stderr)
            return 1
        return 0
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(text, encoding="utf-8")
    print(f"wrote {args.doc} from {len(list(args.results.glob('*.json')))} result files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
