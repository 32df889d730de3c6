"""Heads turn an embedding into a probability per label.

A zero-shot head scores a ticket against each label's description, so classification works
before any training; a linear head is trained from labelled examples and replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Head:
    """``probs = softmax(scale * (emb @ weight.T) + bias)`` over ``labels``."""

    labels: list[str]
    weight: torch.Tensor  # (n_labels, dim)
    bias: torch.Tensor  # (n_labels,)
    scale: float = 1.0
    kind: str = "linear"

    def probs(self, emb: torch.Tensor) -> torch.Tensor:
        logits = self.scale * (emb @ self.weight.T) + self.bias
        return torch.softmax(logits, dim=-1)

    def to_dict(self) -> dict[str, object]:
        return {"labels": self.labels, "weight": self.weight, "bias": self.bias,
                "scale": self.scale, "kind": self.kind}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Head:
        return cls(labels=list(d["labels"]), weight=d["weight"], bias=d["bias"],  # type: ignore[call-overload, arg-type]
                   scale=float(d["scale"]), kind=str(d["kind"]))  # type: ignore[arg-type]


# Cosine similarities of a small encoder sit in a narrow band; this temperature spreads them
# into usable probabilities for the zero-shot heads.
ZERO_SHOT_SCALE = 25.0


def zero_shot_head(labels: list[str], description_embeddings: torch.Tensor) -> Head:
    return Head(labels=labels, weight=description_embeddings,
                bias=torch.zeros(len(labels)), scale=ZERO_SHOT_SCALE, kind="zero-shot")
