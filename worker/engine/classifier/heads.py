"""Heads turn an embedding into a probability per label.

A zero-shot head scores a ticket against each label's description, so classification works
before any training; a linear head is trained from labelled examples and replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Which encoder a head reads: the configured one, or the fine-tuned one saved in its artifact.
BASE_ENCODER = "base"
ARTIFACT_ENCODER = "artifact"


@dataclass
class Head:
    """``probs = softmax(scale * (emb @ weight.T) + bias)`` over ``labels``.

    Calibration divides all logits by one temperature (``rescale``), so the top label never
    changes when a head is calibrated.
    """

    labels: list[str]
    weight: torch.Tensor  # (n_labels, dim)
    bias: torch.Tensor  # (n_labels,)
    scale: float = 1.0
    kind: str = "linear"
    encoder: str = BASE_ENCODER

    def logits(self, emb: torch.Tensor) -> torch.Tensor:
        return self.scale * (emb @ self.weight.T) + self.bias

    def probs(self, emb: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(emb), dim=-1)

    def rescale(self, inverse_temperature: float) -> None:
        """Multiply every logit by ``inverse_temperature`` (temperature scaling)."""
        self.scale *= inverse_temperature
        self.bias = self.bias * inverse_temperature

    def to_dict(self) -> dict[str, object]:
        return {
            "labels": self.labels,
            "weight": self.weight,
            "bias": self.bias,
            "scale": self.scale,
            "kind": self.kind,
            "encoder": self.encoder,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Head:
        weight, bias = d["weight"], d["bias"]
        if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
            raise ValueError("a head needs tensor weight and bias")
        return cls(
            labels=[str(x) for x in d["labels"]],  # type: ignore[attr-defined]
            weight=weight.float(),
            bias=bias.float(),
            scale=float(d["scale"]),  # type: ignore[arg-type]
            kind=str(d["kind"]),
            encoder=str(d.get("encoder", BASE_ENCODER)),
        )


# Cosine similarities of a small encoder sit in a narrow band; this temperature spreads them
# into usable probabilities for the zero-shot heads.
ZERO_SHOT_SCALE = 25.0
