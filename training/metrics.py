"""Evaluation metrics: accuracy, macro-F1, per-class precision/recall, confusions, calibration.

Plain numpy on label strings, so the eval command, the benchmark and the tests compute the
numbers one way. Macro averages run over every label that occurs in the truth or the
predictions (as scikit-learn does), and a ratio with a zero denominator counts as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

ECE_BINS = 15


@dataclass(frozen=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int  # examples whose true label is this one


@dataclass(frozen=True)
class Confusion:
    true: str
    predicted: str
    count: int


@dataclass(frozen=True)
class FieldReport:
    n: int
    accuracy: float
    macro_f1: float
    ece: float
    mean_confidence: float
    per_class: list[ClassScore] = field(default_factory=list)
    confused: list[Confusion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def expected_calibration_error(
    confidence: Sequence[float] | np.ndarray,
    correct: Sequence[bool] | np.ndarray,
    bins: int = ECE_BINS,
) -> float:
    """Sum over equal-width confidence bins of |accuracy - mean confidence| x bin share.

    Bins are ``(i/bins, (i+1)/bins]``; a confidence of exactly 0 falls in the first one.
    """
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += abs(ok[sel].mean() - conf[sel].mean()) * sel.sum() / conf.size
    return float(total)


def most_confused(y_true: Sequence[str], y_pred: Sequence[str], top: int = 10) -> list[Confusion]:
    """The most frequent (true, predicted) mistakes, most frequent first, then by name."""
    counts: dict[tuple[str, str], int] = {}
    for t, p in zip(y_true, y_pred, strict=True):
        if t != p:
            counts[(t, p)] = counts.get((t, p), 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Confusion(t, p, n) for (t, p), n in ranked[:top]]


def evaluate(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    confidence: Sequence[float],
    bins: int = ECE_BINS,
    top_confused: int = 10,
) -> FieldReport:
    """All the numbers ``ticketflow eval`` shows for one field."""
    if not (len(y_true) == len(y_pred) == len(confidence)):
        raise ValueError("y_true, y_pred and confidence must have the same length")
    t, p = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    correct = t == p
    per_class = []
    for label in sorted(set(y_true) | set(y_pred)):
        tp = int(np.sum(correct & (t == label)))
        n_pred, n_true = int(np.sum(p == label)), int(np.sum(t == label))
        prec, rec = _ratio(tp, n_pred), _ratio(tp, n_true)
        per_class.append(ClassScore(label, prec, rec, _ratio(2 * prec * rec, prec + rec), n_true))
    return FieldReport(
        n=len(y_true),
        accuracy=float(correct.mean()) if len(y_true) else 0.0,
        macro_f1=float(np.mean([c.f1 for c in per_class])) if per_class else 0.0,
        ece=expected_calibration_error(confidence, correct, bins),
        mean_confidence=float(np.mean(confidence)) if len(confidence) else 0.0,
        per_class=per_class,
        confused=most_confused(y_true, y_pred, top_confused),
    )
