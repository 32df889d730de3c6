"""Supervised contrastive learning: pull tickets of one label together, push others apart.

With ten examples a label, cross-entropy alone mostly moves the head; a contrastive term
(Khosla et al., 2020; the idea behind SetFit) reshapes the embedding space itself, which is
what a frozen-encoder baseline cannot do. It needs several examples of a label in each batch,
hence the P-labels-times-K-examples batches.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

import torch


def supcon_loss(emb: torch.Tensor, target: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Mean over anchors with at least one positive of -log p(positive | anchor).

    ``emb`` is unit length (B, d); ``target`` is (B,) with -100 for unlabelled rows.
    """
    keep = target >= 0
    emb, target = emb[keep].float(), target[keep]
    n = emb.shape[0]
    if n < 2:
        return emb.sum() * 0.0
    sim = emb @ emb.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=emb.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positive = (target[:, None] == target[None, :]) & ~self_mask
    has_pos = positive.any(dim=1)
    if not bool(has_pos.any()):
        return emb.sum() * 0.0
    pos_log_prob = log_prob.masked_fill(~positive, 0.0).sum(1) / positive.sum(1).clamp(min=1)
    return -pos_log_prob[has_pos].mean()


def label_batches(targets: Sequence[int], per_label: int, batch_size: int,
                  rng: random.Random) -> list[list[int]]:
    """One epoch of batches of ``batch_size // per_label`` labels x ``per_label`` examples.

    Every example appears once; a label's leftovers (fewer than ``per_label``) form a smaller
    group, and unlabelled examples (-100) are spread over the batches.
    """
    by_label: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(targets):
        by_label[t].append(i)
    groups: list[list[int]] = []
    for label, idx in by_label.items():
        rng.shuffle(idx)
        size = per_label if label >= 0 else 1
        groups.extend(idx[i:i + size] for i in range(0, len(idx), size))
    rng.shuffle(groups)
    batches: list[list[int]] = [[]]
    for g in groups:
        if len(batches[-1]) + len(g) > batch_size:
            batches.append([])
        batches[-1].extend(g)
    return [b for b in batches if b]
