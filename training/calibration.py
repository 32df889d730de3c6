"""Temperature scaling: make a head's top probability mean what it says.

A fine-tuned classifier is usually over-confident; one scalar fitted on examples it was not
trained on (Guo et al., 2017) fixes most of that without changing any prediction. The fitted
inverse temperature is stored as the head's ``scale``, so the worker needs no extra step.
"""

from __future__ import annotations

import torch

# Bounds on the temperature, so a degenerate calibration set cannot produce absurd scales.
MIN_T, MAX_T = 0.05, 20.0


def fit_inverse_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The ``scale`` (1/T) minimising the negative log-likelihood of ``targets``.

    Returns 1.0 (no change) when there is nothing to fit on.
    """
    if logits.shape[0] == 0:
        return 1.0
    logits, targets = logits.detach().float(), targets.long()
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp().clamp(MIN_T, MAX_T))
    return 1.0 / t


def nll(logits: torch.Tensor, targets: torch.Tensor, scale: float = 1.0) -> float:
    """Mean negative log-likelihood at a given scale (for reporting before/after)."""
    if logits.shape[0] == 0:
        return 0.0
    return float(torch.nn.functional.cross_entropy(scale * logits.float(), targets.long()))
