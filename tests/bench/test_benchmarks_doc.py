"""docs/benchmarks.md is generated from bench/results/*.json and must match them."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RENDER = ROOT / "bench" / "render_docs.py"


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RENDER), *args], capture_output=True, text=True, timeout=60
    )


def test_committed_page_matches_the_results() -> None:
    r = _render("--check")
    assert r.returncode == 0, r.stderr


def test_a_changed_figure_makes_the_page_stale(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(ROOT / "bench" / "results", results)
    doc = tmp_path / "benchmarks.md"
    assert _render("--results", str(results), "--doc", str(doc)).returncode == 0
    assert _render("--check", "--results", str(results), "--doc", str(doc)).returncode == 0

    path = sorted(results.glob("*.json"))[0]
    data = json.loads(path.read_text())
    data["rows"][0][-1] = "999 s"
    path.write_text(json.dumps(data))
    stale = _render("--check", "--results", str(results), "--doc", str(doc))
    assert stale.returncode == 1 and "out of date" in stale.stderr


def test_a_malformed_result_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(
        json.dumps(
            {
                "benchmark": "x",
                "title": "x",
                "date": "2026-12-01",
                "command": "python bench/x.py",
                "machine": "m",
                "columns": ["a", "b"],
                "rows": [["only one cell"]],
                "notes": "",
            }
        )
    )
    r = _render("--results", str(tmp_path), "--doc", str(tmp_path / "out.md"))
    assert r.returncode != 0 and "row 1 has 1 cells for 2 columns" in r.stderr


def test_a_benchmark_without_results_is_listed_as_not_yet_recorded(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    only = ROOT / "bench" / "results" / "2026-11-24-banking77-minilm.json"
    shutil.copy(only, results / only.name)
    doc = tmp_path / "benchmarks.md"
    assert _render("--results", str(results), "--doc", str(doc)).returncode == 0
    text = doc.read_text()
    assert text.count("Not yet recorded.") == 4  # every script in SCRIPTS but the one copied
    assert "python bench/batching_throughput.py --json PATH" in text
    assert "## Banking77 intent accuracy\n" not in text  # that one has a result
