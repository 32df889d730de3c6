"""The transformers drafting backend on a CUDA GPU: static vs continuous batching, fp32 vs bf16.

Runs the worker's own generation code (``worker.engine.generation``: the static and the
continuous-batching paths the draft backend calls) on the benchmark's 32 prompts
(``bench/gpu_inputs.json``: SmolLM2 token ids, built and fitted as the worker does), with
Llama-family models of the bundled SmolLM2-135M's shape and larger ones, in random weights:
the 98 MB GGUF cannot travel to the GPU machine, and throughput does not depend on the values.
Every draft runs ``max_new_tokens`` (EOS ignored), so tokens/s compare like for like; real
drafts end at different lengths, where continuous batching gains more than measured here.

Imports only torch, transformers and two project modules that need nothing else.

    python bench/gpu_check.py [--out DIR] [--budget-s 300] [--shapes smollm2-135m,smollm2-1.7b]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from worker.engine.device import pick_dtype  # noqa: E402
from worker.engine.generation import (  # noqa: E402
    GenerationParams,
    continuous_generate,
    static_generate,
)

# (label, dtype, batching, batch size (0: all prompts in one call), prompts (0: all), options)
RUNS: list[tuple[str, torch.dtype, str, int, int, dict[str, Any]]] = [
    ("seed: 1 generate per ticket (first 8), bf16", torch.bfloat16, "static", 1, 8, {}),
    ("static batches of 8, bf16", torch.bfloat16, "static", 8, 0, {}),
    ("static, all 32 in one batch, bf16", torch.bfloat16, "static", 0, 0, {}),
    ("continuous batching, all 32, bf16", torch.bfloat16, "continuous", 0, 0, {}),
    (
        "continuous, all 32, bf16, no graph warm-up",
        torch.bfloat16,
        "continuous",
        0,
        0,
        {"warmup": False},
    ),
    ("static batches of 8, fp32 (today's CPU path)", torch.float32, "static", 8, 0, {}),
]
SEED, B8, ALL, CB, CB_NOWARM, FP32 = (r[0] for r in RUNS)


DEVICE = torch.device("cuda", 0)


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def _name() -> str:
    return torch.cuda.get_device_name(0) if DEVICE.type == "cuda" else "cpu (smoke test)"


def _peak_gib() -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if DEVICE.type == "cuda" else 0.0


def _model(spec: dict[str, Any], dtype: torch.dtype) -> Any:
    torch.manual_seed(0)
    with DEVICE:
        model = LlamaForCausalLM(LlamaConfig(**spec)).to(dtype).eval()
    return model


def _timed(
    model: Any,
    prompts: list[list[int]],
    batching: str,
    size: int,
    params: GenerationParams,
    pad: int,
    opts: dict[str, Any],
) -> tuple[float, int]:
    size = size or len(prompts)
    _sync()
    t0 = time.perf_counter()
    tokens = 0
    for i in range(0, len(prompts), size):
        chunk = prompts[i : i + size]
        if batching == "continuous":
            out = continuous_generate(model, chunk, params, pad, **opts)
        else:
            out = static_generate(model, chunk, params, pad)
        tokens += sum(len(o) for o in out)
    _sync()
    return time.perf_counter() - t0, tokens


def run_shape(
    name: str,
    spec: dict[str, Any],
    data: dict[str, Any],
    deadline: float,
    new_tokens: int,
    save: Any,
) -> list[dict[str, Any]]:
    prompts: list[list[int]] = data["prompts"]
    pad: int = data["pad_id"]
    params = GenerationParams(new_tokens, repetition_penalty=1.0, ignore_eos=True)
    rows: list[dict[str, Any]] = []
    warm = GenerationParams(8, repetition_penalty=1.0, ignore_eos=True)
    for dtype in (torch.bfloat16, torch.float32):
        runs = [r for r in RUNS if r[1] == dtype]
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        model = _model(spec, dtype)
        build_s = time.perf_counter() - t0
        for label, _, batching, size, limit, opts in runs:
            if time.monotonic() > deadline:
                rows.append({"shape": name, "run": label, "skipped": "time budget"})
                continue
            these = prompts[:limit] if limit else prompts
            try:
                # Warm-up (CUDA context, kernels); continuous batching warms up in every call.
                warm_s, _ = _timed(model, these[:2], batching, size, warm, pad, opts)
                secs, tokens = _timed(model, these, batching, size, params, pad, opts)
            except Exception as err:  # report and go on: one failing path must not hide the rest
                rows.append({"shape": name, "run": label, "error": f"{type(err).__name__}: {err}"})
                print(f"{name:<16}{label:<46} ERROR {type(err).__name__}: {err}", flush=True)
                continue
            row = {
                "shape": name,
                "run": label,
                "dtype": str(dtype),
                "batching": batching,
                "batch": size or len(these),
                "tickets": len(these),
                "seconds": round(secs, 3),
                "tokens": tokens,
                "tokens_per_s": round(tokens / secs, 1),
                "tickets_per_s": round(len(these) / secs, 2),
                "warm_up_s": round(warm_s, 2),
                "model_build_s": round(build_s, 2),
                "peak_gib": round(_peak_gib(), 2),
            }
            rows.append(row)
            save(rows)
            print(
                f"{name:<16}{label:<46}{row['tokens_per_s']:>10.1f} tok/s"
                f"{row['tickets_per_s']:>8.2f} tickets/s  (warm-up {warm_s:.1f}s)",
                flush=True,
            )
        del model
        gc.collect()
        if DEVICE.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    base = next((r for r in rows if r.get("run") == SEED and "tokens_per_s" in r), None)
    for r in rows:
        if base and "tokens_per_s" in r:
            r["vs_seed"] = round(r["tokens_per_s"] / base["tokens_per_s"], 2)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", type=Path, default=ROOT / "bench" / "gpu_inputs.json")
    ap.add_argument("--out", type=Path, default=Path("."))
    ap.add_argument("--shapes", default="smollm2-135m,smollm2-1.7b,llama-7b-shape")
    ap.add_argument(
        "--smoke", action="store_true", help="CPU, a tiny shape, 4 prompts: checks the script"
    )
    ap.add_argument("--max-new-tokens", type=int, default=0, help="0: the worker's default")
    ap.add_argument("--budget-s", type=float, default=300, help="skip what would start later")
    args = ap.parse_args()
    global DEVICE
    data = json.loads(args.inputs.read_text())
    if args.smoke:
        DEVICE = torch.device("cpu")
        data["prompts"] = [p[-32:] for p in data["prompts"][:4]]
        data["shapes"]["tiny"] = {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
        }
        args.shapes, args.max_new_tokens = "tiny", args.max_new_tokens or 4
    elif not torch.cuda.is_available():
        sys.exit("no CUDA device visible")
    new_tokens = args.max_new_tokens or data["max_new_tokens"]
    deadline = time.monotonic() + args.budget_s
    info = {
        "gpu": _name(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "auto_dtype": str(pick_dtype(DEVICE)),
        "prompts": len(data["prompts"]),
        "max_new_tokens": new_tokens,
        "mean_prompt_tokens": sum(map(len, data["prompts"])) / len(data["prompts"]),
    }
    print(json.dumps(info), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []

    def save(partial: list[dict[str, Any]], summary: dict[str, float] | None = None) -> None:
        """Written after every run, so a run cut off by the time limit still reports."""
        doc = {"info": info, "rows": rows + partial, "summary": summary or {}}
        (args.out / "gpu_check.json").write_text(json.dumps(doc, indent=1) + "\n")

    for name in args.shapes.split(","):
        spec = {**data["common"], **data["shapes"][name]}
        rows += run_shape(name, spec, data, deadline, new_tokens, save)
    summary = {}
    ratios = [
        ("continuous / static, all 32, bf16", CB, ALL),
        ("continuous without graph warm-up / static, all 32", CB_NOWARM, ALL),
        ("static all 32 / static batches of 8, bf16", ALL, B8),
        ("bf16 / fp32, batches of 8", B8, FP32),
        ("static batches of 8 bf16 / seed", B8, SEED),
        ("continuous / seed", CB, SEED),
    ]
    for name in args.shapes.split(","):
        got = {
            r["run"]: r["tokens_per_s"] for r in rows if r["shape"] == name and "tokens_per_s" in r
        }
        for what, a, b in ratios:
            if a in got and b in got:
                summary[f"{name}: {what} (tokens/s)"] = round(got[a] / got[b], 2)
    print(json.dumps(summary, indent=1), flush=True)
    save([], summary)


if __name__ == "__main__":
    main()
