"""The ticket classifier: encoder + one head per field, zero-shot until a trained version exists."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import torch

from shared.taxonomy import Taxonomy
from worker.classifier.artifacts import latest_version, load_artifact
from worker.classifier.encoder import SentenceEncoder
from worker.classifier.heads import Head, zero_shot_head
from worker.engine.base import Label

log = logging.getLogger(__name__)

FIELDS = ("category", "priority", "sentiment")
TAXONOMY_FIELD = {"category": "categories", "priority": "priorities", "sentiment": "sentiments"}
ZERO_SHOT_VERSION = "zero-shot"


class TicketClassifier:
    """Scores a batch of texts for every field; swaps to a newer trained version on request."""

    def __init__(self, encoder_spec: str, taxonomy: Taxonomy, heads_dir: Path,
                 device: torch.device, top_k: int = 3) -> None:
        self.encoder_spec = encoder_spec
        self.taxonomy = taxonomy
        self.heads_dir = heads_dir
        self.device = device
        self.top_k = top_k
        self._lock = threading.Lock()
        self.base_encoder = SentenceEncoder(encoder_spec, device)
        self.encoder = self.base_encoder
        self.version = ZERO_SHOT_VERSION
        self.heads = self._zero_shot_heads()
        self.maybe_reload()

    def _zero_shot_heads(self) -> dict[str, Head]:
        heads = {}
        for field in FIELDS:
            table: dict[str, str] = getattr(self.taxonomy, TAXONOMY_FIELD[field])
            emb = self.base_encoder.embed([f"{k.replace('_', ' ')}: {v}" for k, v in table.items()])
            heads[field] = zero_shot_head(list(table), emb)
        return heads

    def maybe_reload(self) -> bool:
        """Pick up the version LATEST points at, if it is not the one loaded; True if swapped."""
        version = latest_version(self.heads_dir)
        if version is None or version == self.version:
            return False
        heads, meta, encoder_dir = load_artifact(self.heads_dir, version)
        encoder = (SentenceEncoder(str(encoder_dir), self.device) if encoder_dir
                   else self.base_encoder)
        merged = {**self._zero_shot_heads(), **heads} if set(heads) != set(FIELDS) else heads
        with self._lock:
            self.heads, self.encoder, self.version = merged, encoder, version
        log.info("classifier now at version %s (%s)", version, meta.get("summary", ""))
        return True

    @property
    def model_id(self) -> str:
        return self.encoder_spec

    def classify(self, texts: Sequence[str]) -> list[dict[str, tuple[Label, list[Label]]]]:
        """Per text and field: the top label and the runners-up, each with its probability."""
        with self._lock:
            heads, encoder = self.heads, self.encoder
        emb = encoder.embed(texts)
        out: list[dict[str, tuple[Label, list[Label]]]] = [{} for _ in texts]
        for field, head in heads.items():
            probs = head.probs(emb)
            k = min(self.top_k, len(head.labels))
            top = torch.topk(probs, k, dim=-1)
            for i in range(len(texts)):
                labels = [Label(head.labels[j], round(float(p), 4))
                          for p, j in zip(top.values[i], top.indices[i], strict=True)]
                out[i][field] = (labels[0], labels[1:])
        return out

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        return self.base_encoder.embed(texts)
