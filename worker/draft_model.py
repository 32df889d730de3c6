"""Reply drafting with any Hugging Face causal LM that has a chat template."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from worker.device import pick_dtype
from worker.engine.base import ChatMessages
from worker.model_source import check_local_or_hub, resolve_draft_model


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
    ) -> None:
        check_local_or_hub(spec)
        from pathlib import Path

        path = resolve_draft_model(spec, Path(cache_dir))
        self.spec = spec
        self.device = device
        self.max_input_tokens = max_input_tokens
        self.max_new_tokens = max_new_tokens
        self.repetition_penalty = repetition_penalty
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=pick_dtype(device))
        self.model: Any = model.to(device).eval()
        self.model.generation_config.pad_token_id = self.tokenizer.pad_token_id

    def _render(self, chat: ChatMessages) -> str:
        if self.tokenizer.chat_template:
            return str(
                self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
            )
        # Base models without a template: a plain transcript still works.
        lines = [f"{m['role'].capitalize()}: {m['content']}" for m in chat]
        return "\n\n".join([*lines, "Assistant:"])

    @torch.inference_mode()
    def generate(self, chats: Sequence[ChatMessages]) -> list[str]:
        prompts = [self._render(c) for c in chats]
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
        )
        new_tokens = out[:, inputs["input_ids"].shape[1] :]
        return [
            t.strip() for t in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        ]
