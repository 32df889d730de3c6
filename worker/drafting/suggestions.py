"""Approved replies as examples: the nearest ones for a ticket, in its language.

Support work is repetitive, so the best draft for many tickets is the reply a colleague already
approved for a similar one. Every approved or edited reply (and every imported template) is a
``reply_example`` row; workers embed each example's ticket text with their own encoder, like the
knowledge base, and notice new rows by count and highest id without a restart. Rejected drafts
never become examples (``review.examples`` writes only approvals and edits).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from shared.models import ReplyExample
from worker.drafting.knowledge_base import EMBED_BATCH, Embedder, _unit_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    id: int
    ticket_id: int | None  # None for a template
    template_id: str | None
    category: str
    language: str
    customer_name: str | None
    ticket_text: str
    reply: str

    @property
    def origin(self) -> str:
        """How the reviewer is told where the suggestion comes from."""
        if self.ticket_id is not None:
            return f"the reply approved for #{self.ticket_id}"
        return f"the template {self.template_id!r}"


@dataclass(frozen=True)
class ExampleHit:
    example: Example
    score: float


def _lang(code: str) -> str:
    return code.lower().split("-")[0]


class ExampleIndex:
    """In-memory index of reply examples; ``search`` keeps the query's language only."""

    def __init__(
        self,
        db: DbEngine,
        embedder: Embedder,
        *,
        min_similarity: float,
        refresh_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.min_similarity = min_similarity
        self.refresh_s = refresh_s
        self._clock = clock
        self._examples: tuple[Example, ...] = ()
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._version = (0, 0)
        self._checked_at: float | None = None
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return len(self._examples)

    def _read_version(self, s: Session) -> tuple[int, int]:
        count, max_id = s.exec(
            select(func.count(col(ReplyExample.id)), func.max(col(ReplyExample.id)))
        ).one()
        return int(count or 0), int(max_id or 0)

    def load(self) -> int:
        with Session(self.db) as s:
            version = self._read_version(s)
            rows = s.exec(select(ReplyExample).order_by(col(ReplyExample.id))).all()
        examples = tuple(
            Example(
                r.id or 0,
                r.ticket_id,
                r.template_id,
                r.category,
                _lang(r.language),
                r.customer_name,
                r.ticket_text,
                r.reply,
            )
            for r in rows
        )
        vectors: list[list[float]] = []
        texts = [e.ticket_text for e in examples]
        for i in range(0, len(texts), EMBED_BATCH):
            vectors.extend(self.embedder.embed(texts[i : i + EMBED_BATCH]))
        matrix = _unit_rows(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
        self._examples, self._matrix, self._version = examples, matrix, version
        self._checked_at = self._clock()
        log.info("reply examples: %d indexed", len(examples))
        return len(examples)

    def refresh_if_due(self) -> None:
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self.refresh_s:
            return
        with self._lock:
            self._checked_at = now
            try:
                with Session(self.db) as s:
                    changed = self._read_version(s) != self._version
                if changed:
                    self.load()
            except SQLAlchemyError as err:
                log.warning("reply examples refresh failed, keeping %d: %s", self.size, err)

    def search(
        self, vectors: Sequence[Sequence[float]], languages: Sequence[str], k: int
    ) -> list[list[ExampleHit]]:
        """Up to ``k`` examples per query in the query's language, at or above the threshold;
        approved replies before templates at equal score, best first."""
        examples, matrix = self._examples, self._matrix
        if not examples or k <= 0:
            return [[] for _ in vectors]
        scores = _unit_rows(vectors) @ matrix.T
        out = []
        for row, lang in zip(scores, languages, strict=True):
            want = _lang(lang)
            hits = [
                ExampleHit(examples[i], round(float(row[i]), 4))
                for i in np.argsort(-row, kind="stable")
                if row[i] >= self.min_similarity and examples[i].language == want
            ]
            out.append(hits[:k])
        return out
