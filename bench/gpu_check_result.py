"""Turns the GPU check's ``gpu_check.json`` into a result file for ``docs/benchmarks.md``.

    python bench/gpu_check_result.py GPU_OUT/gpu_check.json \
        --json bench/results/DATE-gpu-draft-engines.json && python bench/render_docs.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from results_io import write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    report = json.loads(args.report.read_text())
    info = report["info"]
    rows = [
        [
            r["shape"],
            r["run"],
            f"{r['tokens_per_s']:.0f}",
            f"{r['tickets_per_s']:.2f}",
            f"{r.get('vs_seed', '-')}x",
            f"{r['warm_up_s']:.1f}",
            f"{r['peak_gib']:.1f}",
        ]
        if "tokens_per_s" in r
        else [r["shape"], r["run"], "-", "-", "-", "-", r.get("error") or r.get("skipped", "")]
        for r in report["rows"]
    ]
    result = write(
        args.json,
        benchmark="gpu-draft-engines",
        title=f"Transformers drafting backend on a GPU ({info['gpu']})",
        columns=["model shape", "run", "tokens/s", "tickets/s", "vs seed", "warm-up s", "peak GiB"],
        rows=rows,
        notes=(
            f"{info['prompts']} benchmark prompts ({info['mean_prompt_tokens']:.0f} tokens on "
            f"average) as token ids, {info['max_new_tokens']} new tokens per draft (EOS ignored: "
            "every draft runs to the limit, so continuous batching's gain on uneven lengths is "
            f"not in these figures); random weights of each shape; torch {info['torch']}, "
            f"transformers {info['transformers']}. Ratios: "
            + "; ".join(f"{k} {v}x" for k, v in report["summary"].items())
        ),
        raw=report,
    )
    result["command"] = "OUT=gpu-out bash bench/gpu_check.sh"
    result["machine"] = f"{info['gpu']} (device machine)"
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
