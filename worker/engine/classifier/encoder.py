"""Sentence embeddings from any Hugging Face encoder: mean pooling, then unit length."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel, AutoTokenizer

from worker.engine.model_source import check_local_or_hub, explain_load_errors, resolve_encoder

log = logging.getLogger(__name__)

# Families whose position ids start after the padding index, so a table of 514 takes 512.
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "mpnet", "data2vec-text")


def max_positions(config: Any) -> int | None:
    """The longest input (in tokens) the encoder's position table allows; None if unbounded."""
    n = getattr(config, "max_position_embeddings", None)
    if not isinstance(n, int) or n <= 0:
        return None
    pad = getattr(config, "pad_token_id", None)
    if getattr(config, "model_type", "") in OFFSET_POSITIONS and isinstance(pad, int):
        return n - pad - 1
    return n


class SentenceEncoder:
    """Holds the encoder in eval mode on one device; ``embed`` is batched and grad-free."""

    def __init__(self, spec: str, device: torch.device, max_length: int = 256) -> None:
        check_local_or_hub(spec, "encoder")
        path = resolve_encoder(spec)
        self.spec = spec
        self.device = device
        with explain_load_errors("encoder", spec, path):
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModel.from_pretrained(path)
        self.model = model.to(device).eval()
        self.max_positions = max_positions(self.model.config)
        # Longer inputs would index past the position table and fail on every long ticket;
        # training refuses such a length, this only guards versions saved before it did.
        if self.max_positions is not None and max_length > self.max_positions:
            log.warning(
                "encoder %s takes at most %d tokens; truncating to that, not %d",
                spec,
                self.max_positions,
                max_length,
            )
            max_length = self.max_positions
        self.max_length = max_length

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode_batch(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings with gradients when the model is in training mode (fine-tuning)."""
        enc = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        out = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(out.dtype)
        pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def save(self, path: Path) -> None:
        """Weights and tokenizer together, so the directory loads as an encoder spec."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        if not texts:
            return torch.empty(0, self.dim)
        parts = [
            self.encode_batch(texts[i : i + batch_size]).float().cpu()
            for i in range(0, len(texts), batch_size)
        ]
        return torch.cat(parts)
