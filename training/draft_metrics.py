"""Draft quality figures: similarity to a reference reply, guardrail failures, language.

ROUGE-L comes from Google's ``rouge-score`` package (the reference implementation's scoring),
with a tokenizer that keeps accented and non-Latin words (its default drops everything outside
a-z and 0-9, which would score a Chinese reply as empty) and splits CJK text per character.
Edit distance is the normalised Levenshtein distance from ``rapidfuzz``. Embedding similarity
is a cosine between the encoder's sentence vectors, passed in by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from rouge_score import rouge_scorer

# Runs of letters/digits, or one CJK character at a time (no spaces between CJK words).
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+", re.UNICODE)


class UnicodeTokenizer:
    """The ``tokenize`` interface rouge-score expects, for every script."""

    def tokenize(self, text: str) -> list[str]:
        return [t.lower() for t in _TOKEN.findall(text)]


_SCORER = rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeTokenizer())


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 of ``candidate`` against ``reference``."""
    return float(_SCORER.score(reference, candidate)["rougeL"].fmeasure)


def edit_distance(a: str, b: str) -> float:
    """0 (identical) to 1 (nothing in common), character level."""
    return float(Levenshtein.normalized_distance(a, b))


def cosines(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> list[float]:
    """Row-wise cosine between two lists of vectors."""
    if not a:
        return []
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    num = (x * y).sum(axis=1)
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return [float(v) for v in np.divide(num, den, out=np.zeros_like(num), where=den > 0)]


def words(text: str) -> int:
    return len(UnicodeTokenizer().tokenize(text))


@dataclass
class DraftScore:
    """One draft's figures; ``None``: not measured for this draft."""

    language: str
    category: str
    violations: list[str] = field(default_factory=list)  # guardrail codes the text still fails
    unflagged_contacts: bool = False
    unflagged_placeholders: bool = False
    language_match: bool = False
    cited: bool | None = None  # None: no article was shown
    cosine: float | None = None
    rouge_l: float | None = None
    words: int = 0
    decision: str | None = None  # from reviews
    edit_distance: float | None = None
    suggestion_cosine: float | None = None
    suggestion_rouge_l: float | None = None


def _mean(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(sum(got) / len(got), 3) if got else None


def _rate(flags: Iterable[bool]) -> float | None:
    got = list(flags)
    return round(sum(got) / len(got), 3) if got else None


def summarise(scores: Sequence[DraftScore]) -> dict[str, Any]:
    """Aggregate figures for a group of drafts."""
    reviewed = [s for s in scores if s.decision is not None]
    return {
        "n": len(scores),
        "violation_rate": _rate(bool(s.violations) for s in scores),
        "unflagged_contacts": sum(s.unflagged_contacts for s in scores),
        "unflagged_placeholders": sum(s.unflagged_placeholders for s in scores),
        "language_match": _rate(s.language_match for s in scores),
        "citation_rate": _rate(s.cited for s in scores if s.cited is not None),
        "cosine": _mean(s.cosine for s in scores),
        "rouge_l": _mean(s.rouge_l for s in scores),
        "words": _mean(float(s.words) for s in scores),
        "approval_rate": _rate(s.decision == "approve" for s in reviewed) if reviewed else None,
        "edit_distance": _mean(s.edit_distance for s in reviewed),
    }


def grouped(scores: Sequence[DraftScore]) -> dict[str, dict[str, Any]]:
    """Overall, then per language and per category."""
    out = {"all": summarise(scores)}
    for key in ("language", "category"):
        for value in sorted({getattr(s, key) for s in scores}):
            out[f"{key}={value}"] = summarise([s for s in scores if getattr(s, key) == value])
    return out


def violation_codes(warnings: Iterable[Mapping[str, Any]], ignore: Iterable[str]) -> list[str]:
    skip = set(ignore)
    return [str(w["code"]) for w in warnings if w["code"] not in skip]
