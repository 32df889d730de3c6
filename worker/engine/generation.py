"""Greedy generation on token ids, two ways: static batches and continuous batching.

Static (``model.generate`` on a left-padded batch) honours every setting, including the
repetition penalty and the time limit, but every row waits for the longest and pays for the
padding. Continuous batching (transformers' ``generate_batch``: paged KV cache, a request
joins when a slot frees) wastes neither, but in the transformers releases used here it drops
the repetition penalty and has no time limit; ``unsupported`` names what a mode cannot honour
so the worker says it at start instead of dropping it silently.

Imports only torch and transformers, so ``bench/gpu_check.py`` runs it on a GPU machine
without the rest of the project's dependencies.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from transformers import GenerationConfig

log = logging.getLogger(__name__)

Batching = Literal["static", "continuous"]


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int
    repetition_penalty: float = 1.0
    max_seconds: float | None = None  # a batch stops itself after this long (static only)
    ignore_eos: bool = False  # benchmarks on random weights: every row runs max_new_tokens


def unsupported(batching: Batching, params: GenerationParams) -> list[str]:
    """Settings a mode cannot honour, in words for the start-up log (empty: all honoured)."""
    if batching == "static":
        return []
    gaps = []
    if params.repetition_penalty != 1.0:
        gaps.append(
            f"repetition_penalty={params.repetition_penalty:g} is NOT applied: transformers' "
            "continuous batching drops it (drafts differ from static batches)"
        )
    if params.max_seconds is not None:
        gaps.append(
            f"the {params.max_seconds:g} s generation time limit is NOT applied: continuous "
            "batching has none (max_new_tokens bounds a draft; the stall watchdog still runs)"
        )
    return gaps


def _config(
    model: Any, params: GenerationParams, pad_id: int, batching: Batching = "static"
) -> GenerationConfig:
    # Continuous batching gets only what it honours (``unsupported`` said the rest at start):
    # handed a penalty, it logs and drops it on every call.
    static = batching == "static"
    cfg = GenerationConfig(
        do_sample=False,
        max_new_tokens=params.max_new_tokens,
        repetition_penalty=params.repetition_penalty if static else 1.0,
        max_time=params.max_seconds if static else None,
        pad_token_id=pad_id,
        eos_token_id=None if params.ignore_eos else model.generation_config.eos_token_id,
    )
    if params.ignore_eos:
        cfg.min_new_tokens = params.max_new_tokens
    return cfg


def continuous_config(model: Any, params: GenerationParams, pad_id: int) -> GenerationConfig:
    """The generation config continuous batching gets (only what it honours)."""
    return _config(model, params, pad_id, "continuous")


def strip(ids: list[int], stop: set[int]) -> list[int]:
    """New tokens up to (not including) the first end-of-sequence or padding token."""
    for i, t in enumerate(ids):
        if t in stop:
            return ids[:i]
    return ids


def stop_ids(model: Any, pad_id: int, params: GenerationParams) -> set[int]:
    if params.ignore_eos:
        return set()
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return eos_ids | {pad_id}


@torch.inference_mode()
def static_generate(
    model: Any, prompts: Sequence[list[int]], params: GenerationParams, pad_id: int
) -> list[list[int]]:
    """One ``generate`` over the left-padded batch; the new token ids of each row."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, p in enumerate(prompts):
        ids[row, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[row, width - len(p) :] = 1
    out = model.generate(
        input_ids=ids.to(model.device),
        attention_mask=mask.to(model.device),
        generation_config=_config(model, params, pad_id),
    )
    stop = stop_ids(model, pad_id, params)
    return [strip(row.tolist(), stop) for row in out[:, width:]]


def sized_for(prompts: Sequence[list[int]], params: GenerationParams) -> Any:
    """A continuous-batching config sized for these requests, not for the free memory.

    Left to itself, transformers sizes the paged cache (and, off flash attention, a dense
    attention mask) from free memory and clears them every call: 25-80 s a call on a CPU,
    whatever the model. Enough blocks for every request at full length are all it needs.
    """
    from transformers import ContinuousBatchingConfig

    block = 256  # the default page/block size in transformers 5.17-5.24
    blocks = sum(-(-(len(p) + params.max_new_tokens) // block) for p in prompts)
    return ContinuousBatchingConfig(
        num_blocks=blocks + 1,
        max_batch_tokens=min(sum(len(p) for p in prompts) + len(prompts), 4096),
        max_requests_per_batch=len(prompts),
    )


@torch.inference_mode()
def continuous_generate(
    model: Any,
    prompts: Sequence[list[int]],
    params: GenerationParams,
    pad_id: int,
    warmup: bool | None = None,
    sized: bool = True,
) -> list[list[int]]:
    """transformers' continuous batching over the prompts; the new token ids of each one.

    ``generate_batch`` logs and swallows a failure and returns what it has; a missing or failed
    request here raises, so the batcher retries the items and nothing is dropped silently.
    """
    results = model.generate_batch(
        [list(p) for p in prompts],
        generation_config=_config(model, params, pad_id, "continuous"),
        continuous_batching_config=sized_for(prompts, params) if sized else None,
        progress_bar=False,
        # The warm-up captures CUDA graphs, once per call (the manager lives for one call); on
        # a CPU it only costs time (~45 s measured). None: on CUDA only.
        warmup=model.device.type == "cuda" if warmup is None else warmup,
    )
    outputs = list(results.values())
    errors = [o.error for o in outputs if getattr(o, "error", None)]
    if len(outputs) != len(prompts) or errors:
        raise RuntimeError(
            f"continuous batching returned {len(outputs)} of {len(prompts)} drafts"
            + (f"; first error: {errors[0]}" if errors else "")
        )
    stop = stop_ids(model, pad_id, params)
    return [strip(list(o.generated_tokens), stop) for o in outputs]


def generate(
    batching: Batching,
    model: Any,
    prompts: Sequence[list[int]],
    params: GenerationParams,
    pad_id: int,
) -> list[list[int]]:
    fn = continuous_generate if batching == "continuous" else static_generate
    return fn(model, prompts, params, pad_id)
