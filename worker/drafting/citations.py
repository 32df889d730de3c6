"""What a draft cites, and the links it may contain: the last step before a draft is stored.

The prompt numbers the retrieved passages [1]..[k] and asks the model to cite them. A small
model sometimes cites a number it was never shown, or makes up a link; both are removed so a
reviewer never follows a citation or a URL to nothing (links are kept only when they come from
the knowledge base). When the draft cites none of the passages it was given, a sentence pointing
to the best one is added in the customer's language, so the reply carries its source. Every
shown passage is kept with the result, flagged ``cited``: reviewers see what the draft rests on
and what else the model had in front of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from worker.drafting.prompting import article_pointer

# [1], [2, 3] and [2][3], up to [999]; not "[x]" or "[ ]" (checkboxes) or numbers in prose.
_MARKER = re.compile(r"([ \t]*)\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# A link ends at a space, or at a bracket, quote or CJK punctuation that closes the sentence
# around it (these are never left unescaped inside a URL).
_CLOSERS = (
    "\u00ab\u00bb\u2039\u203a\u201c\u201d\u2018\u2019\u201e\u201a"  # quotation marks
    "\u300c-\u3011\u3008\u3009\uff08\uff09"  # CJK brackets
    "\u3001\u3002\uff0c\uff01\uff1f\uff1a\uff1b"  # CJK and full-width punctuation
)
_URL = re.compile(rf"(?:https?://|www\.)[^\s<>\"'()\[\]{{}}{_CLOSERS}]+", re.IGNORECASE)
# Anything else that a mail client or a browser would open: another scheme (javascript:, data:,
# file:, any "x://"), or a bare domain with a common top-level domain or a path ("evil.example/x").
_OTHER_SCHEME = re.compile(
    rf"(?<![\w.+-])(?:(?:javascript|vbscript|data|file|blob|about|filesystem|intent|jar|"
    rf"view-source|ms-[a-z-]+):|[a-z][a-z0-9+.-]*://)[^\s<>\"'(){{}}{_CLOSERS}]*",
    re.IGNORECASE,
)
_BARE_DOMAIN = re.compile(
    rf"(?<![\w@./:-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+"
    rf"(?:(?:com|net|org|info|biz|io|co|app|dev|xyz|me|ly|gl|to|link|site|online|shop|store|"
    rf"click|top|ru|cn|de|uk|fr|es|it|nl|eu|us|ca|au|in|br|jp|pl|se|ch|be|at)\b(?:/[^\s<>\"'()"
    rf"\[\]{{}}{_CLOSERS}]*)?|[a-z]{{2,24}}/[^\s<>\"'()\[\]{{}}{_CLOSERS}]+)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?*…"  # ends a sentence or markdown emphasis, not the link
LINK_REMOVED = "[link removed]"


def cited_numbers(draft: str) -> set[int]:
    return {int(n) for m in _MARKER.finditer(draft) for n in m.group(2).split(",")}


def drop_unknown_markers(draft: str, shown: int) -> str:
    """Remove citation numbers outside 1..shown; a marker left empty goes with its space."""

    def keep(m: re.Match[str]) -> str:
        nums = [n.strip() for n in m.group(2).split(",") if 1 <= int(n) <= shown]
        return f"{m.group(1)}[{', '.join(nums)}]" if nums else ""

    return _MARKER.sub(keep, draft).strip()


def urls_in(texts: Iterable[str | None]) -> set[str]:
    return {_key(_clean_url(m.group(0))) for t in texts if t for m in _URL.finditer(t)}


def _clean_url(url: str) -> str:
    return url.rstrip(_TRAILING)


def _key(url: str) -> str:
    """The link as compared: scheme and host are case-insensitive, the path is not."""
    scheme, sep, rest = url.rpartition("://") if "://" in url else ("", "", url)
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}{sep}{host.lower()}{slash}{path}"


def drop_unknown_links(draft: str, allowed: set[str]) -> str:
    """Replace every link not in ``allowed`` with a visible marker for the reviewer: http(s)
    links not from the knowledge base, then any other scheme, then bare domains."""

    def keep(m: re.Match[str]) -> str:
        url = _clean_url(m.group(0))
        tail = m.group(0)[len(url) :]
        return (url if _key(url) in allowed else LINK_REMOVED) + tail

    def http_only(m: re.Match[str]) -> str:
        url = _clean_url(m.group(0))
        if url.lower().startswith(("http://", "https://")) and _key(url) in allowed:
            return m.group(0)
        return LINK_REMOVED + m.group(0)[len(url) :]

    def bare(m: re.Match[str]) -> str:
        url = _clean_url(m.group(0))
        return (
            m.group(0) if url.lower().startswith("www.") else LINK_REMOVED + m.group(0)[len(url) :]
        )

    draft = _URL.sub(keep, draft)
    draft = _OTHER_SCHEME.sub(http_only, draft)
    return _BARE_DOMAIN.sub(bare, draft)


def annotate(draft: str, shown: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The draft without dangling markers, and the shown passages each flagged ``cited``."""
    clean = drop_unknown_markers(draft, len(shown))
    used = cited_numbers(clean)
    return clean, [{**c, "cited": c["n"] in used} for c in shown]


def finish_draft(
    draft: str, shown: list[dict[str, Any]], language: str, passage_texts: Iterable[str]
) -> tuple[str, list[dict[str, Any]]]:
    """Links checked, markers checked, and a pointer to passage [1] when nothing is cited."""
    allowed = urls_in([*passage_texts, *(c.get("url") for c in shown)])
    text, cites = annotate(drop_unknown_links(draft, allowed), shown)
    if cites and not any(c["cited"] for c in cites):
        top = cites[0]
        pointer = article_pointer(language, top["n"], top["title"], top.get("url"))
        if pointer is not None:
            text = f"{text}\n\n{pointer}"
            cites[0] = {**top, "cited": True, "appended": True}
    return text, cites
