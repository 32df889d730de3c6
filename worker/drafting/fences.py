"""Customer text made inert for any chat model, before it goes between our fences.

Three things can let a ticket speak as someone else: a chat-template control token written out
as text (``<|im_end|>``, ``</s>``, ``[INST]``, ``<start_of_turn>``, DeepSeek's
``<\uff5cUser\uff5c>``), a look-alike of our own delimiters (full-width ``<ticket>`` or one with a
zero-width space inside, which a tokenizer may still read as the real thing), and a forged
thread separator that makes the model take a customer's paragraph for "the newest message".

So, in this order: NFKC-normalise (full-width and compatibility forms become the plain
characters they imitate) and strip zero-width and bidi-control characters; then defuse every
control token of the loaded tokenizer (its own special and added tokens, read at run time, not a
hard-coded list) plus the common families' tokens for when no tokenizer is known; then defuse
our delimiters and any line that would read as the thread separator. Defusing swaps one
character for a visible look-alike, so a reviewer still reads what the customer wrote.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from shared.models import escape_separator

LT, RT = "\u2039", "\u203a"  # single angle quotation marks: < and > that are not markup
LB, RB = "\u2045", "\u2046"  # square brackets with quill: [ and ]
BAR = "\u00a6"  # broken bar: |

# Zero-width, joiners, soft hyphen, word joiners, bidi embeddings/overrides/isolates, BOM, and
# the tag characters (U+E0000 block) used to hide instructions from people.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)
# Control tokens of the common template families, defused even when no tokenizer is given.
COMMON_TOKENS = (
    "<s>",
    "</s>",
    "<unk>",
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<</SYS>>",
    "<bos>",
    "<eos>",
    "<pad>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|",
    "|>",
)
_DELIMITER_OPEN = re.compile(r"<(?=\s*/?\s*(?:ticket|history|references)\b)", re.IGNORECASE)
_SWAPS = {"<": LT, ">": RT, "[": LB, "]": RB, "|": BAR}


def visible_text(text: str) -> str:
    """NFKC-normalised, invisible characters removed."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def defuse_token(token: str) -> str:
    """The token with its markup characters swapped for look-alikes (or, for a token without
    any, a space after its first character), so no tokenizer maps it to the control id."""
    swapped = "".join(_SWAPS.get(c, c) for c in token)
    return swapped if swapped != token else token[:1] + " " + token[1:]


def control_token_set(tokens: Iterable[str]) -> tuple[str, ...]:
    """Tokens worth defusing, longest first (so ``<|im_end|>`` goes before ``<|``): anything
    with markup or a non-letter, not plain words and not whitespace."""
    keep = {
        t
        for t in (*COMMON_TOKENS, *tokens)
        if t and t.strip() and len(t) >= 2 and not t.replace(" ", "").isalnum()
    }
    keep |= {visible_text(t) for t in keep}  # e.g. DeepSeek's bars after NFKC
    return tuple(sorted((t for t in keep if t.strip()), key=len, reverse=True))


def tokenizer_control_tokens(tokenizer: Any) -> frozenset[str]:
    """A Hugging Face tokenizer's own special and added tokens, whatever its family."""
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    tokens = {str(t) for t in getattr(tokenizer, "all_special_tokens", ())}
    tokens |= {str(getattr(t, "content", t)) for t in added.values()}
    return frozenset(t for t in tokens if t.strip())


class Neutralizer:
    """Makes customer text inert for one tokenizer's control tokens (see module docstring).

    A tokenizer may bring thousands of added tokens (Gemma's ``<unused0>``...), too many for
    one regex alternation: candidates start at a token's first character, and each length in
    use is looked up in a set, longest first, so the cost grows with the text, not the list.
    """

    def __init__(self, special_tokens: Iterable[str] = ()) -> None:
        self.tokens = control_token_set(special_tokens)
        self._by_length: dict[int, set[str]] = {}
        for t in self.tokens:
            self._by_length.setdefault(len(t), set()).add(t.casefold())
        self._lengths = sorted(self._by_length, reverse=True)
        firsts = {t[0].casefold() for t in self.tokens} | {t[0].upper() for t in self.tokens}
        chars = "".join(re.escape(c) for c in sorted(firsts))
        self._start = re.compile(f"[{chars}]" if chars else r"(?!)")

    def _defuse_tokens(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        for m in self._start.finditer(text):
            i = m.start()
            if i < pos:
                continue
            for n in self._lengths:
                if text[i : i + n].casefold() in self._by_length[n]:
                    out += [text[pos:i], defuse_token(text[i : i + n])]
                    pos = i + n
                    break
        return "".join(out) + text[pos:] if out else text

    def __call__(self, text: str) -> str:
        text = self._defuse_tokens(visible_text(text))
        text = _DELIMITER_OPEN.sub(LT, text)
        return escape_separator(text)


DEFAULT = Neutralizer()
