"""Micro-batching vs one ticket at a time, on the real engine, measured in one run.

Runs the worker's own batch function (classify + prompt + generate) over the demo samples,
first one ticket per forward pass (the baseline: what a plain Celery task per ticket does),
then in batches of --batch-size, and prints tickets/s and the ratio.

    python bench/batching_throughput.py [--tickets 16] [--batch-size 8] [--max-new-tokens 48]
        [--json bench/results/DATE-batching-throughput.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from results_io import write

from shared.config import load_settings
from ticketflow.demo import load_samples
from worker.drafting.prompting import TicketView
from worker.engine.transformers_engine import TransformersEngine
from worker.pipeline.triage import TriageJob, run_batch


def _jobs(n: int) -> list[TriageJob]:
    samples = load_samples()
    return [
        TriageJob(i, TicketView(subject=s["subject"], body=s["body"]))
        for i, s in enumerate((samples * (n // len(samples) + 1))[:n])
    ]


def _throughput(engine: TransformersEngine, jobs: list[TriageJob], size: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(jobs), size):
        run_batch(engine, jobs[i : i + size])
    return len(jobs) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", type=Path, help="also write the result here (bench/results_io)")
    args = ap.parse_args()
    settings = load_settings(max_new_tokens=args.max_new_tokens, device=args.device)
    t0 = time.perf_counter()
    engine = TransformersEngine(settings)
    engine.warm_up()
    print(
        f"engine loaded in {time.perf_counter() - t0:.1f}s on {engine.info.device} "
        f"({engine.load_seconds})"
    )
    jobs = _jobs(args.tickets)
    base = _throughput(engine, jobs, 1)
    ours = _throughput(engine, jobs, args.batch_size)
    print(f"{'mode':<28}{'tickets/s':>10}")
    print(f"{'baseline: 1 per pass':<28}{base:>10.2f}")
    print(f"{f'ours: batch of {args.batch_size}':<28}{ours:>10.2f}")
    print(
        f"speed-up: {ours / base:.2f}x  ({args.tickets} tickets, "
        f"{args.max_new_tokens} new tokens max, greedy)"
    )
    if args.json:
        write(
            args.json,
            benchmark="batching-throughput",
            title="Micro-batching against one ticket per forward pass (real engine)",
            columns=["mode", "tickets/s", "ratio"],
            rows=[
                ["baseline: 1 ticket per pass", f"{base:.2f}", "1.00x"],
                [f"ticketflow: batches of {args.batch_size}", f"{ours:.2f}", f"{ours / base:.2f}x"],
            ],
            notes=f"{args.tickets} demo tickets, greedy, {args.max_new_tokens} new tokens max, "
            f"device {engine.info.device}.",
        )


if __name__ == "__main__":
    main()
