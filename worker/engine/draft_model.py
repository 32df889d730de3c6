"""Reply drafting with any Hugging Face causal LM that has a chat template."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from worker.drafting.fences import tokenizer_control_tokens
from worker.drafting.prompt_budget import PromptFitter, render_chat
from worker.engine.base import ChatMessages
from worker.engine.device import pick_dtype
from worker.engine.model_source import check_local_or_hub, explain_load_errors, resolve_draft_model


class DraftGenerator:
    """Batched greedy generation; left padding so every prompt ends where generation starts."""

    def __init__(
        self,
        spec: str,
        cache_dir: str,
        device: torch.device,
        max_input_tokens: int,
        max_new_tokens: int,
        repetition_penalty: float,
        max_seconds: float | None = None,
    ) -> None:
        check_local_or_hub(spec, "draft model")
        from pathlib import Path

        path = resolve_draft_model(spec, Path(cache_dir))
        self.spec = spec
        self.device = device
        self.max_input_tokens = max_input_tokens
        self.max_new_tokens = max_new_tokens
        self.repetition_penalty = repetition_penalty
        # The threads pool cannot interrupt a task, so a slow generate must end itself: after
        # this long it returns what it has (a shorter draft; a person reviews every draft).
        self.max_seconds = max_seconds
        with explain_load_errors("draft model", spec, path):
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=pick_dtype(device))
        self.tokenizer.padding_side = "left"
        # Safety net only (fit() normally prevents it): never cut the end, where the assistant
        # turn the model must answer sits.
        self.tokenizer.truncation_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model: Any = model.to(device).eval()
        self.model.generation_config.pad_token_id = self.tokenizer.pad_token_id
        self._fitter = PromptFitter(self.tokenizer, max_input_tokens)

    def control_tokens(self) -> frozenset[str]:
        """The tokenizer's own special and added tokens: customer text must not spell them
        (``worker.drafting.fences``); read from the loaded tokenizer, whatever its family."""
        return tokenizer_control_tokens(self.tokenizer)

    def _render(self, chat: ChatMessages) -> str:
        return render_chat(self.tokenizer, chat)

    def _count(self, text: str) -> int:
        return self._fitter.count(text)

    def fit(self, chat: ChatMessages) -> str:
        """The rendered chat within ``max_input_tokens``; see ``worker.drafting.prompt_budget``."""
        return self._fitter.fit(chat)

    @torch.inference_mode()
    def generate(self, chats: Sequence[ChatMessages]) -> list[str]:
        prompts = [self.fit(c) for c in chats]
        enc = self.tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_input_tokens,
            add_special_tokens=False,
        )
        # Only what a causal LM takes: some tokenizers also return token_type_ids.
        inputs = {k: enc[k].to(self.device) for k in ("input_ids", "attention_mask")}
        out = self.model.generate(
            **inputs,
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            repetition_penalty=self.repetition_penalty,
            max_time=self.max_seconds,
        )
        new_tokens = out[:, inputs["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        # A reply begun in the chat (its opening) is part of the draft.
        begun = [c[-1]["content"] if c[-1]["role"] == "assistant" else "" for c in chats]
        return [(b + t).strip() for b, t in zip(begun, texts, strict=True)]
