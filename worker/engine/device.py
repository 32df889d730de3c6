"""Picking the torch device: the GPU when there is one, the CPU otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from shared.errors import ConfigError


def pick_device(setting: str) -> torch.device:
    """``auto`` takes CUDA when available; ``cuda`` without a GPU is a configuration error."""
    if setting == "cpu":
        return torch.device("cpu")
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError("TICKETFLOW_DEVICE=cuda but no CUDA device is visible")
        return torch.device("cuda", 0)  # CUDA_VISIBLE_DEVICES already pinned one GPU
    return torch.device("cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    """bf16 on GPUs that support it (half the memory, tensor cores); fp32 on CPU."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


@contextmanager
def freed_on_oom(device: torch.device) -> Iterator[None]:
    """On a CUDA out-of-memory error, give the allocator's cached blocks back, then re-raise.

    The batcher retries a failed batch item by item and the task retries the ticket; without
    this the blocks the failed batch held stay cached and fragmented, and the retries can
    fail the same way.
    """
    try:
        yield
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise
