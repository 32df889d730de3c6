"""Deterministic stand-ins for the model side: a bag-of-words embedder and a recording engine."""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence

from worker.engine.base import ChatMessages
from worker.engine.fake_engine import FakeEngine

STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by can do for from have how i in is it me my of on or our "
        "please the this to was we what when where will with you your",
    )
)


class HashingEmbedder:
    """Word-overlap embeddings: hashed bag of words, unit length. Counts its calls."""

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []

    def vector(self, text: str) -> list[float]:
        v = [0.0] * self.dim
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            if word not in STOPWORDS:
                v[zlib.crc32(word.encode()) % self.dim] += 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [self.vector(t) for t in texts]


class RecordingEngine(FakeEngine):
    """The fake engine's labels and drafts, hashing embeddings, and a record of every chat."""

    def __init__(self, reply: str | None = None) -> None:
        super().__init__()
        self.embedder = HashingEmbedder()
        self.chats: list[ChatMessages] = []
        self.reply = reply  # when set, every draft is this text

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embedder.embed(texts)

    def draft(self, chats: Sequence[ChatMessages]) -> list[str]:
        self.chats.extend(chats)
        return [self.reply for _ in chats] if self.reply is not None else super().draft(chats)
