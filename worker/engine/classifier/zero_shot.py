"""Zero-shot heads: classification from label descriptions and examples, before any training.

Each label's prototype is the mean embedding of its description and example texts. Raw cosine
scores favour some labels for every input (a generic label description sits close to all
texts), so each label's mean similarity to all prototypes' texts of the field is subtracted as a
bias: a label wins only where a text is closer to it than texts usually are.
"""

from __future__ import annotations

import torch

from shared.taxonomy import TAXONOMY_FIELDS, Taxonomy
from worker.engine.classifier.encoder import SentenceEncoder
from worker.engine.classifier.heads import ZERO_SHOT_SCALE, Head


def _label_texts(taxonomy: Taxonomy, tax_field: str) -> dict[str, list[str]]:
    table: dict[str, str] = getattr(taxonomy, tax_field)
    return {
        label: [f"{label.replace('_', ' ')}: {desc}", *taxonomy.label_examples(tax_field, label)]
        for label, desc in table.items()
    }


def zero_shot_heads(encoder: SentenceEncoder, taxonomy: Taxonomy) -> dict[str, Head]:
    heads = {}
    for field, tax_field in TAXONOMY_FIELDS.items():
        texts = _label_texts(taxonomy, tax_field)
        labels = list(texts)
        all_texts = [t for label in labels for t in texts[label]]
        emb = encoder.embed(all_texts)
        protos, start = [], 0
        for label in labels:
            n = len(texts[label])
            protos.append(emb[start : start + n].mean(0))
            start += n
        weight = torch.nn.functional.normalize(torch.stack(protos), dim=-1)
        bias = -ZERO_SHOT_SCALE * (emb @ weight.T).mean(0)
        heads[field] = Head(
            labels=labels, weight=weight, bias=bias, scale=ZERO_SHOT_SCALE, kind="zero-shot"
        )
    return heads
