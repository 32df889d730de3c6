"""bench/gpu_check.py runs once per GPU lease, with no second try: its CPU smoke mode keeps it
from rotting between leases (same code paths, a tiny model, 4 prompts)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_smoke_runs_every_path_and_reports(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    runs = report["rows"]
    assert len(runs) == 6 and not [x for x in runs if "error" in x or "skipped" in x]
    assert all(x["tokens"] == x["tickets"] * 4 for x in runs)  # EOS ignored: like for like
    assert "tiny: continuous / static, all 32, bf16 (tokens/s)" in report["summary"]
