"""Picking the torch device and the draft model's dtype from the hardware.

Imports only torch and ``shared.errors`` so ``bench/gpu_check.py`` can use it on a GPU machine
that has no pydantic or SQLModel.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from shared.errors import ConfigError

# CPU flags (Linux /proc/cpuinfo names) whose presence makes bf16 matrix work fast: AMX tiles
# (Sapphire Rapids and later) or AVX-512 BF16 (Cooper Lake, Zen 4 and later). Without one of
# them torch emulates bf16 and it is slower than fp32.
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(setting: str) -> torch.device:
    """``auto`` takes CUDA when available; ``cuda`` without a GPU is a configuration error."""
    if setting == "cpu":
        return torch.device("cpu")
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError("TICKETFLOW_DEVICE=cuda but no CUDA device is visible")
        return torch.device("cuda", 0)  # CUDA_VISIBLE_DEVICES already pinned one GPU
    return torch.device("cpu")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first CPU's feature flags; empty where /proc/cpuinfo is missing (macOS, containers
    that hide it), which makes ``auto`` fall back to fp32: slower, never wrong."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def pick_dtype(
    device: torch.device, setting: str = "auto", flags: frozenset[str] | None = None
) -> torch.dtype:
    """The draft model's dtype: ``auto`` is bf16 on GPUs that support it and on CPUs with
    AMX/AVX512-BF16 (2.4x fp32's tokens/s measured on a Sapphire Rapids core), fp32 elsewhere.

    An explicit setting wins, except bf16/fp16 on a CPU without bf16 support is still honoured
    (the operator asked for it: it saves memory even where it costs speed).
    """
    if setting != "auto":
        if setting not in DTYPES:
            raise ConfigError(
                f"TICKETFLOW_DTYPE must be auto, {', '.join(DTYPES)}; not {setting!r}"
            )
        return DTYPES[setting]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type == "cpu" and (cpu_flags() if flags is None else flags) & BF16_CPU_FLAGS:
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
