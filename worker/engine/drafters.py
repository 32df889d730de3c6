"""Builds the drafting backend named in settings (``TICKETFLOW_DRAFT_BACKEND``)."""

from __future__ import annotations

import torch

from shared.config import Settings
from worker.engine.base import Drafter
from worker.engine.generation import Batching


def pick_batching(settings: Settings, device: torch.device) -> Batching:
    """``auto``: continuous batching only where it measures faster and changes nothing.

    On this project's CPUs it measured 0.6-0.9x static batches (0.92x in issue 19's bench,
    compute-bound, little padding waste to win back); and it drops the repetition penalty, so
    with a penalty set it changes the drafts (4 of 16 drafts looped without it). So: continuous
    on a GPU with ``repetition_penalty=1``, static otherwise.
    """
    if settings.draft_batching != "auto":
        return settings.draft_batching
    if device.type == "cuda" and settings.repetition_penalty == 1.0:
        return "continuous"
    return "static"


def build_drafter(settings: Settings, device: torch.device) -> Drafter:
    if settings.draft_backend == "vllm":
        from worker.engine.vllm_drafter import VllmDraftGenerator

        return VllmDraftGenerator(
            settings.draft_model,
            str(settings.model_cache_dir),
            settings.max_input_tokens,
            settings.max_new_tokens,
            settings.repetition_penalty,
            settings.draft_seconds,
            settings.dtype,
            settings.vllm_gpu_memory_utilization,
            device=device,
            cpu_kv_cache_gb=settings.vllm_cpu_kv_cache_gb,
            enforce_eager=settings.vllm_enforce_eager,
            max_num_seqs=settings.batch_size,
        )
    from worker.engine.draft_model import DraftGenerator

    return DraftGenerator(
        settings.draft_model,
        str(settings.model_cache_dir),
        device,
        settings.max_input_tokens,
        settings.max_new_tokens,
        settings.repetition_penalty,
        settings.draft_seconds,
        settings.dtype,
        pick_batching(settings, device),
        settings.batch_size,
    )
