"""Retrieval: the right passage for a query, the similarity floor, refresh after an import."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from knowledge.importer import KbDoc, delete_docs, import_paths, sample_kb_dir, store_docs
from shared.config import BUNDLED_ENCODER
from tests.worker.doubles import HashingEmbedder
from worker.drafting.knowledge_base import KnowledgeBase
from worker.engine.fake_engine import FakeEngine

ARTICLES = {
    "refunds": (
        "Refunds policy",
        "Refunds are paid back to your card within 10 business days "
        "after the returned item reaches our warehouse.",
    ),
    "password": (
        "Password reset",
        "Click forgot password on the sign-in page; the reset link is valid for 60 minutes.",
    ),
    "delivery": (
        "Delivery times",
        "Standard delivery takes 3 to 5 business days; express "
        "delivery takes 1 to 2 business days.",
    ),
}


def doc(doc_id: str, title: str, text: str) -> KbDoc:
    return KbDoc(doc_id, title, f"https://help.example.com/{doc_id}", (text,), "test")


def seed(session: Session, **extra: tuple[str, str]) -> None:
    store_docs(session, [doc(d, t, x) for d, (t, x) in {**ARTICLES, **extra}.items()])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_retrieves_the_matching_passage_best_first(session: Session, db_engine: DbEngine) -> None:
    seed(session)
    embedder = HashingEmbedder()
    kb = KnowledgeBase(db_engine, embedder, min_similarity=0.1)
    assert kb.load() == 3

    hits = kb.retrieve(
        [
            "How long does express delivery take?",
            "I forgot my password, the reset link expired",
            "zebra xylophone quantum",
        ]
    )

    assert [h.passage.doc_id for h in hits[0]][:1] == ["delivery"]
    assert hits[0][0].passage.url == "https://help.example.com/delivery"
    assert [h.score for h in hits[0]] == sorted((h.score for h in hits[0]), reverse=True)
    assert hits[1][0].passage.doc_id == "password"
    assert hits[2] == [], "nothing shares a word with it: below the similarity floor"
    assert len(embedder.calls) == 2, "one call to index, one for the whole batch of queries"


def test_min_similarity_and_top_k(session: Session, db_engine: DbEngine) -> None:
    seed(session)
    query = ["refunds card business days"]
    loose = KnowledgeBase(db_engine, HashingEmbedder(), min_similarity=0.0, top_k=2)
    loose.load()
    assert len(loose.retrieve(query)[0]) == 2
    strict = KnowledgeBase(db_engine, HashingEmbedder(), min_similarity=0.99)
    strict.load()
    assert strict.retrieve(query)[0] == []


def test_refreshes_after_an_import_at_most_every_refresh_s(
    session: Session, db_engine: DbEngine
) -> None:
    seed(session)
    clock = Clock()
    embedder = HashingEmbedder()
    kb = KnowledgeBase(db_engine, embedder, refresh_s=30, clock=clock, min_similarity=0.2)
    kb.load()
    query = ["my blender arrived broken, warranty claim"]
    assert kb.retrieve(query) == [[]]

    seed(
        session,
        warranty=(
            "Warranty",
            "A broken blender or other faulty item is covered by "
            "the 2-year warranty claim process.",
        ),
    )
    clock.now += 10
    assert kb.retrieve(query) == [[]], "not checked again before refresh_s"
    clock.now += 25
    assert kb.retrieve(query)[0][0].passage.doc_id == "warranty"
    assert kb.size == 4

    calls = len(embedder.calls)
    clock.now += 60
    kb.retrieve(query)
    assert len(embedder.calls) == calls + 1, "unchanged table: only the query is embedded"


def test_deleted_documents_leave_the_index_at_refresh(
    session: Session, db_engine: DbEngine
) -> None:
    seed(session)
    clock = Clock()
    kb = KnowledgeBase(db_engine, HashingEmbedder(), refresh_s=1, clock=clock, min_similarity=0.1)
    kb.load()
    query = ["forgot password reset link"]
    assert kb.retrieve(query)[0][0].passage.doc_id == "password"

    delete_docs(session, ["password"])
    clock.now += 5
    assert all(h.passage.doc_id != "password" for h in kb.retrieve(query)[0])
    assert kb.size == 2


def test_refresh_failure_keeps_the_old_index(
    session: Session, db_engine: DbEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(session)
    clock = Clock()
    kb = KnowledgeBase(db_engine, HashingEmbedder(), refresh_s=1, clock=clock, min_similarity=0.1)
    kb.load()

    def down(_s: Any) -> tuple[int, int]:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(kb, "_version", down)
    clock.now += 5
    assert kb.retrieve(["forgot password reset link"])[0][0].passage.doc_id == "password"


def test_empty_knowledge_base_finds_nothing_without_embedding(db_engine: DbEngine) -> None:
    embedder = HashingEmbedder()
    kb = KnowledgeBase(db_engine, embedder)
    assert kb.load() == 0
    assert kb.retrieve(["anything", "at all"]) == [[], []]
    assert embedder.calls == []


def test_fake_engine_retrieval_is_deterministic(session: Session, db_engine: DbEngine) -> None:
    seed(session)
    kb = KnowledgeBase(db_engine, FakeEngine())
    kb.load()
    queries = ["Where is my parcel?", "refund please"]
    first = kb.retrieve(queries)
    assert first == kb.retrieve(queries)
    assert all(len(hits) <= kb.top_k for hits in first)


# --- The real bundled encoder ----------------------------------------------------------------


class MiniLM:
    """The worker's SentenceEncoder behind the Engine's ``embed`` signature."""

    def __init__(self) -> None:
        import torch

        from worker.engine.classifier.encoder import SentenceEncoder

        self.encoder = SentenceEncoder(BUNDLED_ENCODER, torch.device("cpu"))

    def embed(self, texts: Any) -> list[list[float]]:
        return [row.tolist() for row in self.encoder.embed(list(texts))]


@pytest.fixture(scope="module")
def minilm() -> Iterator[MiniLM]:
    yield MiniLM()


@pytest.mark.slow
def test_minilm_retrieves_the_refund_article(
    minilm: MiniLM, session: Session, db_engine: DbEngine
) -> None:
    import_paths(session, [sample_kb_dir()])
    kb = KnowledgeBase(db_engine, minilm)
    kb.load()

    refund, off_topic = kb.retrieve(
        [
            "Refund not received\nI returned my order two weeks ago and still haven't got my "
            "money back. When will the refund arrive?",
            "Do you have vegan recipes for a birthday cake?",
        ]
    )

    assert refund, "a refund question must find the refund article"
    assert refund[0].passage.doc_id == "refunds-policy"
    assert refund[0].score >= kb.min_similarity
    assert off_topic == []
