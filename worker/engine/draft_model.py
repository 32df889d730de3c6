"""Reply drafting with any Hugging Face causal LM that has a chat template (transformers backend).

Prompts are rendered and fitted to the input budget here (the same for every backend), then
generated in static batches or with continuous batching (``worker.engine.generation``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from shared import metrics
from worker.drafting.fences import tokenizer_control_tokens
from worker.drafting.prompt_budget import PromptFitter, render_chat
from worker.engine.base import ChatMessages, DraftStream, Watch
from worker.engine.continuous_stream import ContinuousDraftStream
from worker.engine.device import pick_dtype
from worker.engine.generation import Batching, GenerationParams, generate, unsupported
from worker.engine.model_source import check_local_or_hub, explain_load_errors, resolve_draft_model

log = logging.getLogger(__name__)


def begun_replies(chats: Sequence[ChatMessages]) -> list[str]:
    """A reply begun in the chat (its opening, an assistant turn last) is part of the draft."""
    return [c[-1]["content"] if c[-1]["role"] == "assistant" else "" for c in chats]


class DraftGenerator:
    """Greedy drafts from a transformers model, in static batches or continuous batching."""

    backend = "transformers"

    def __init__(
        self,
        spec: str,
        cache_dir: str,
        device: torch.device,
        max_input_tokens: int,
        max_new_tokens: int,
        repetition_penalty: float,
        max_seconds: float | None = None,
        dtype: str = "auto",
        batching: Batching = "static",
        capacity: int = 16,
    ) -> None:
        check_local_or_hub(spec, "draft model")
        path = resolve_draft_model(spec, Path(cache_dir))
        self.spec = spec
        self.device = device
        self.max_input_tokens = max_input_tokens
        self.batching: Batching = batching
        self.capacity = capacity  # drafts generated at once by a continuous stream
        # The threads pool cannot interrupt a task, so a slow generate must end itself: after
        # max_seconds it returns what it has (a shorter draft; a person reviews every draft).
        self.params = GenerationParams(max_new_tokens, repetition_penalty, max_seconds)
        self.dtype = pick_dtype(device, dtype)
        with explain_load_errors("draft model", spec, path):
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model: Any = model.to(device).eval()
        self.model.generation_config.pad_token_id = self.tokenizer.pad_token_id
        self._fitter = PromptFitter(self.tokenizer, max_input_tokens)
        self.unsupported = unsupported(batching, self.params)
        for gap in self.unsupported:
            log.warning("draft backend transformers/%s: %s", batching, gap)
        log.info("draft model %s: %s, %s batching on %s", spec, self.dtype, batching, device)

    @property
    def max_new_tokens(self) -> int:
        return self.params.max_new_tokens

    @property
    def max_seconds(self) -> float | None:
        return self.params.max_seconds

    def fit(self, chat: ChatMessages) -> str:
        """The rendered chat within ``max_input_tokens``; see ``worker.drafting.prompt_budget``."""
        return self._fitter.fit(chat)

    def control_tokens(self) -> frozenset[str]:
        """The tokenizer's own special and added tokens: customer text must not spell them
        (``worker.drafting.fences``); read from the loaded tokenizer, whatever its family."""
        return tokenizer_control_tokens(self.tokenizer)

    def _render(self, chat: ChatMessages) -> str:
        return render_chat(self.tokenizer, chat)

    def _count(self, text: str) -> int:
        return self._fitter.count(text)

    def prompt_ids(self, chat: ChatMessages) -> list[int]:
        ids: list[int] = self.tokenizer(self.fit(chat), add_special_tokens=False)["input_ids"]
        # Safety net only (fit() normally prevents it): never cut the end, where the assistant
        # turn the model must answer sits.
        return ids[-self.max_input_tokens :]

    def generate_ids(self, chats: Sequence[ChatMessages]) -> list[list[int]]:
        """New token ids per chat (benchmarks count them)."""
        prompts = [self.prompt_ids(c) for c in chats]
        pad = self.tokenizer.pad_token_id
        return generate(self.batching, self.model, prompts, self.params, pad)

    def stream(self, watch: Watch) -> DraftStream | None:
        """Continuous batching: one manager for the worker's life, tickets joining one by one.
        Static batches: None (the worker micro-batches prompts into ``generate``)."""
        if self.batching != "continuous":
            return None
        return ContinuousDraftStream(
            self.model,
            self.prompt_ids,
            lambda ids: str(self.tokenizer.decode(ids, skip_special_tokens=True)),
            lambda chat: begun_replies([chat])[0],
            self.params,
            self.tokenizer.pad_token_id,
            self.capacity,
            self.max_input_tokens,
            watch,
        )

    def close(self) -> None:
        """Nothing outlives the model object here."""

    def generate(self, chats: Sequence[ChatMessages]) -> list[str]:
        ids = self.generate_ids(chats)
        metrics.record_generated_tokens(sum(len(i) for i in ids))
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [(b + t).strip() for b, t in zip(begun_replies(chats), texts, strict=True)]
