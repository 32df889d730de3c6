"""Fitting a chat into the draft model's input budget, counted in tokens, without breaking it.

The character caps in ``worker.drafting.prompting`` bound the usual case, but tokens per
character vary several-fold across scripts (1,500 Chinese characters are ~3,400 SmolLM2
tokens). So the rendered prompt is measured with the model's own tokenizer, and only text
inside our fences is shortened, in its middle: the ticket first, then the references, then the
history. Every delimiter, instruction and the final assistant turn survive, so a cut can never
leave customer text outside its fence.
"""

from __future__ import annotations

import logging
from itertools import pairwise
from typing import Any

from shared.models import THREAD_SEPARATOR
from worker.drafting.prompting import FENCES
from worker.engine.base import ChatMessages

log = logging.getLogger(__name__)

CUT = "[...]"
MARGIN_TOKENS = 8  # the marker, and tokens that merge differently across the cut
MAX_PASSES = 8  # each pass cuts by a measured amount; the next corrects any re-tokenising


def render_chat(tokenizer: Any, chat: ChatMessages) -> str:
    """The prompt text; a trailing assistant message is a reply begun, to be continued."""
    begun = chat[-1]["role"] == "assistant"
    if tokenizer.chat_template:
        return str(
            tokenizer.apply_chat_template(
                chat, tokenize=False, add_generation_prompt=not begun, continue_final_message=begun
            )
        )
    # Base models without a template: a plain transcript still works.
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in chat]
    return "\n\n".join(lines if begun else [*lines, "Assistant:"])


class PromptFitter:
    """Renders chats within ``max_input_tokens`` of ``tokenizer``."""

    def __init__(self, tokenizer: Any, max_input_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.max_input_tokens = max_input_tokens

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def fit(self, chat: ChatMessages) -> str:
        chat = list(chat)
        rendered = render_chat(self.tokenizer, chat)
        for _ in range(MAX_PASSES):
            excess = self.count(rendered) - self.max_input_tokens
            if excess <= 0:
                return rendered
            spot = self._shortenable(chat)
            if spot is None:
                break
            i, start, end = spot
            text = chat[i]["content"]
            inner = self._cut(text[start:end], excess + MARGIN_TOKENS)
            chat[i] = {**chat[i], "content": text[:start] + inner + text[end:]}
            rendered = render_chat(self.tokenizer, chat)
        if self.count(rendered) > self.max_input_tokens:
            # Only fixed text is left (a huge system prompt): the tokenizer's left truncation is
            # the net, and it means max_input_tokens is set too low for the prompt.
            log.warning("prompt does not fit %d tokens even shortened", self.max_input_tokens)
        return rendered

    def _shortenable(self, chat: ChatMessages) -> tuple[int, int, int] | None:
        """Message index and character span of the next text to shorten, or None."""
        fenced = False
        for fence in FENCES:
            opening, closing = f"<{fence}>\n", f"\n</{fence}>"
            for i, m in enumerate(chat):
                text = m["content"]
                start, end = text.find(opening), text.rfind(closing)
                if start < 0 or end < start + len(opening):
                    continue
                fenced = True
                start += len(opening)
                if text[start:end].strip() != CUT:
                    return i, start, end
        if fenced:
            return None
        # A chat of ours always has fences; any other (a warm-up) loses its longest message's
        # middle.
        others = [i for i, m in enumerate(chat) if m["role"] != "system"] or [0]
        i = max(others, key=lambda k: len(chat[k]["content"]))
        return (i, 0, len(chat[i]["content"])) if chat[i]["content"].strip() != CUT else None

    def _cut(self, text: str, drop: int) -> str:
        """``text`` less about ``drop`` tokens from its middle, cut at token boundaries.

        A thread keeps more of its end, where its newest message is.
        """
        spans = self._token_spans(text)
        keep = len(spans) - drop
        if keep <= 0:
            return CUT
        head = keep // 3 if THREAD_SEPARATOR in text else keep * 2 // 3
        tail = keep - head
        start = text[: spans[head - 1][1]].rstrip() if head else ""
        end = text[spans[len(spans) - tail][0] :].lstrip() if tail else ""
        return f"{start} {CUT} {end}".strip()

    def _token_spans(self, text: str) -> list[tuple[int, int]]:
        """Each token's character span; even spans when the tokenizer cannot give offsets."""
        if getattr(self.tokenizer, "is_fast", False):
            enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            return [(int(a), int(b)) for a, b in enc["offset_mapping"]]
        n = max(self.count(text), 1)
        bounds = [len(text) * k // n for k in range(n + 1)]
        return list(pairwise(bounds))
