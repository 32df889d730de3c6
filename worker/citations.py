"""Which of the passages shown to the model a draft actually cites.

The prompt numbers the retrieved passages [1]..[k] and asks the model to cite them. A small
model sometimes cites a number it was never shown; such markers are removed from the draft so a
reviewer never follows a citation to nothing. Every shown passage is kept in the result with a
``cited`` flag: reviewers see what the draft relies on and what else the model had in front of it.
"""

from __future__ import annotations

import re
from typing import Any

# [1], [2, 3] and [2][3]; not "[x]" or "[ ]" (checkboxes) or numbers in prose.
_MARKER = re.compile(r"\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]")


def cited_numbers(draft: str) -> set[int]:
    return {int(n) for m in _MARKER.finditer(draft) for n in m.group(1).split(",")}


def drop_unknown_markers(draft: str, shown: int) -> str:
    """Remove citation numbers outside 1..shown; a marker left empty is removed whole."""

    def keep(m: re.Match[str]) -> str:
        nums = [n.strip() for n in m.group(1).split(",") if 1 <= int(n) <= shown]
        return f"[{', '.join(nums)}]" if nums else ""

    cleaned = _MARKER.sub(keep, draft)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()


def annotate(draft: str, shown: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The draft without dangling markers, and the shown passages each flagged ``cited``."""
    clean = drop_unknown_markers(draft, len(shown))
    used = cited_numbers(clean)
    return clean, [{**c, "cited": c["n"] in used} for c in shown]
