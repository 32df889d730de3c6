"""Retrieval over the knowledge base: passages embedded once in memory, cosine top-k per ticket.

The index is built at worker start with the engine's own encoder, so queries and passages share
one vector space. An import on the producer side is noticed without a restart: at most every
``refresh_s`` seconds the passage count and highest id are compared (an import deletes and
re-inserts a changed document, so both move) and the index is rebuilt when they differ.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from shared.config import default
from shared.models import KbPassage

log = logging.getLogger(__name__)

# Defaults: TICKETFLOW_KB_MIN_SIMILARITY / _KB_TOP_K / _KB_REFRESH_S (shared/config.py).
# The similarity cut-off was calibrated on the demo tickets with all-MiniLM-L6-v2: on-topic
# articles score 0.5-0.75, off-topic ones up to ~0.38. A wrong passage makes a confidently
# wrong draft; none is safe.
MIN_SIMILARITY: float = default("kb_min_similarity")
TOP_K: int = default("kb_top_k")
REFRESH_S: float = default("kb_refresh_s")
EMBED_BATCH = 64  # passages per embed call while (re)building, to bound memory


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class Passage:
    id: int
    doc_id: str
    chunk: int
    title: str
    url: str | None
    text: str


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float


@dataclass(frozen=True)
class _Index:
    passages: tuple[Passage, ...]
    matrix: np.ndarray  # (n, dim), unit rows
    version: tuple[int, int]


def _unit_rows(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    """Normalise defensively: the fake engine's vectors are not unit length."""
    m = np.asarray(vectors, dtype=np.float32)
    if m.ndim != 2:
        m = m.reshape(len(vectors), -1)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


def passage_text(p: Passage) -> str:
    """What gets embedded: the article title helps short passages match their topic."""
    return p.text if p.text.startswith(p.title) else f"{p.title}\n{p.text}"


class KnowledgeBase:
    """In-memory passage index; ``retrieve`` is one batched embed call plus a matrix product."""

    def __init__(
        self,
        db: DbEngine,
        embedder: Embedder,
        *,
        top_k: int = TOP_K,
        min_similarity: float = MIN_SIMILARITY,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.top_k = top_k
        self.min_similarity = min_similarity
        self.refresh_s = refresh_s
        self._clock = clock
        self._index = _Index((), np.zeros((0, 0), dtype=np.float32), (0, 0))
        self._checked_at: float | None = None
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return len(self._index.passages)

    def _version(self, s: Session) -> tuple[int, int]:
        count, max_id = s.exec(
            select(func.count(col(KbPassage.id)), func.max(col(KbPassage.id)))
        ).one()
        return int(count or 0), int(max_id or 0)

    def load(self) -> int:
        """(Re)build the index now; at worker start errors propagate so a broken KB shows."""
        with Session(self.db) as s:
            version = self._version(s)
            rows = s.exec(select(KbPassage).order_by(col(KbPassage.id))).all()
        passages = tuple(
            Passage(r.id or 0, r.doc_id, r.chunk, r.title, r.url, r.text) for r in rows
        )
        texts = [passage_text(p) for p in passages]
        vectors: list[list[float]] = []
        for i in range(0, len(texts), EMBED_BATCH):
            vectors.extend(self.embedder.embed(texts[i : i + EMBED_BATCH]))
        matrix = _unit_rows(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
        self._index = _Index(passages, matrix, version)  # one assignment: readers never mix
        self._checked_at = self._clock()
        log.info("knowledge base: %d passage(s) indexed", len(passages))
        return len(passages)

    def refresh_if_due(self) -> bool:
        """Rebuild when the table changed; a database hiccup keeps the old index (logged)."""
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self.refresh_s:
            return False
        with self._lock:
            self._checked_at = now
            try:
                with Session(self.db) as s:
                    changed = self._version(s) != self._index.version
                if changed:
                    self.load()
                return changed
            except SQLAlchemyError as err:
                log.warning(
                    "knowledge base refresh failed, keeping %d passage(s): %s", self.size, err
                )
                return False

    def search(self, query_vectors: Sequence[Sequence[float]]) -> list[list[Hit]]:
        """Top-k passages per query at or above ``min_similarity``, best first."""
        index = self._index
        if not index.passages:
            return [[] for _ in query_vectors]
        scores = _unit_rows(query_vectors) @ index.matrix.T
        out = []
        for row in scores:
            best = np.argsort(-row, kind="stable")[: self.top_k]
            out.append(
                [
                    Hit(index.passages[i], round(float(row[i]), 4))
                    for i in best
                    if row[i] >= self.min_similarity
                ]
            )
        return out

    def retrieve(self, queries: Sequence[str]) -> list[list[Hit]]:
        """Relevant passages for a batch of ticket texts, with one embed call for the batch."""
        self.refresh_if_due()
        if not queries:
            return []
        if not self._index.passages:
            return [[] for _ in queries]
        return self.search(self.embedder.embed(list(queries)))
