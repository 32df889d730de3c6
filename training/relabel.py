"""Keeping fine-tuned fields alive when a run trains other fields (learning without forgetting).

A head trained on an earlier fine-tuned encoder means nothing on the encoder trained now. So
when the current version has such a head for a field this run has no labels for (say priority,
learnt from reviews, while this run trains category from a CSV), the current version labels
this run's texts for that field, and those labels train the field again alongside the others.
Only confident predictions are used, so the new head learns what the old one was sure of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from training.data import Example
from worker.engine.classifier.artifacts import latest_version, load_artifact
from worker.engine.classifier.encoder import SentenceEncoder
from worker.engine.classifier.heads import ARTIFACT_ENCODER

MIN_CONFIDENCE = 0.5  # predictions below this do not become training labels


@dataclass
class Relabelled:
    examples: list[Example]
    version: str | None = None  # the version whose predictions became labels
    counts: dict[str, int] = field(default_factory=dict)  # field -> examples labelled


def relabel_dropped_fields(
    examples: Sequence[Example],
    heads_dir: Path,
    unlabelled_fields: Sequence[str],
    device: torch.device,
    min_confidence: float = MIN_CONFIDENCE,
) -> Relabelled:
    """``examples`` plus the current version's confident labels for those of
    ``unlabelled_fields`` it has a fine-tuned head for; unchanged when there are none."""
    current = latest_version(heads_dir)
    if current is None:
        return Relabelled(list(examples))
    heads, meta, encoder_dir = load_artifact(heads_dir, current)
    dropped = {
        f: h for f, h in heads.items() if h.encoder == ARTIFACT_ENCODER and f in unlabelled_fields
    }
    if not dropped or encoder_dir is None or not examples:
        return Relabelled(list(examples))
    encoder = SentenceEncoder(str(encoder_dir), device, int(meta.get("max_length", 256)))
    emb = encoder.embed([e.text for e in examples])
    extra: list[dict[str, str]] = [{} for _ in examples]
    counts = {}
    for f, head in dropped.items():
        conf, idx = head.probs(emb).max(dim=-1)
        sure = torch.nonzero(conf >= min_confidence).flatten().tolist()
        if len({int(idx[i]) for i in sure}) < 2:
            continue  # a one-label field cannot be trained; it falls back to zero-shot
        for i in sure:
            extra[i][f] = head.labels[int(idx[i])]
        counts[f] = len(sure)
    out = [
        Example(e.text, {**add, **e.labels}) if add else e
        for e, add in zip(examples, extra, strict=True)
    ]
    return Relabelled(out, current if counts else None, counts)
