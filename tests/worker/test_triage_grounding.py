"""The pipeline end to end in-process: history from the DB, retrieval, citations stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, select

from knowledge.importer import import_paths, sample_kb_dir
from shared.models import KbPassage, Review, ReviewDecision, Ticket, TriageResult
from tests.factories import make_result, make_ticket
from tests.worker.doubles import RecordingEngine
from worker.drafting.knowledge_base import KnowledgeBase
from worker.engine.fake_engine import FakeEngine
from worker.pipeline.triage import Outcome, TriageJob, process_ticket, run_batch

EMAIL = "ana@example.com"


def triage(
    db: DbEngine, engine: RecordingEngine | FakeEngine, ticket: Ticket, kb: KnowledgeBase | None
) -> TriageResult:
    assert ticket.id is not None
    ticket_id = ticket.id
    outcome = process_ticket(
        ticket_id,
        1,
        db=db,
        engine=engine,
        submit=lambda job: run_batch(engine, [job], kb)[0],
        worker="test",
        threshold=0.5,
    )
    assert outcome is Outcome.triaged
    with Session(db) as s:
        return s.exec(select(TriageResult).where(TriageResult.ticket_id == ticket_id)).one()


@pytest.fixture
def engine() -> RecordingEngine:
    return RecordingEngine()


@pytest.fixture
def kb(session: Session, db_engine: DbEngine, engine: RecordingEngine) -> KnowledgeBase:
    import_paths(session, [sample_kb_dir()])
    kb = KnowledgeBase(db_engine, engine, min_similarity=0.2)
    kb.load()
    return kb


def test_relevant_passages_are_cited_and_stored(
    session: Session, db_engine: DbEngine, engine: RecordingEngine, kb: KnowledgeBase
) -> None:
    ticket = make_ticket(
        session,
        subject="Forgot password",
        body="I forgot my password and the reset link never arrived.",
    )
    index_calls = len(engine.embedder.calls)

    result = triage(db_engine, engine, ticket, kb)

    assert result.citations, "a password question must be grounded in the KB"
    first = result.citations[0]
    assert first["n"] == 1 and first["doc_id"] == "password-reset"
    assert first["url"] == "https://help.example.com/articles/password-reset"
    # The fake draft cites nothing, so a pointer to the best article is added and flagged.
    assert first["cited"] and first["appended"]
    assert not any(c["cited"] for c in result.citations[1:])
    assert result.draft_reply.endswith(
        f"help article \u201c{first['title']}\u201d: {first['url']} [1]."
    )
    assert [c["n"] for c in result.citations] == list(range(1, len(result.citations) + 1))
    assert all(c["score"] >= kb.min_similarity for c in result.citations)
    (chat,) = engine.chats
    user = chat[1]["content"]
    for c in result.citations:  # what is stored is exactly what the model was shown
        assert f"[{c['n']}] {c['title']}\n" in user
    assert len(engine.embedder.calls) == index_calls + 1


def test_draft_citations_are_flagged_and_unknown_numbers_removed(
    session: Session, db_engine: DbEngine, engine: RecordingEngine, kb: KnowledgeBase
) -> None:
    engine.reply = "Use the reset link [1] within an hour [9]."
    kb.min_similarity = -1.0  # show top_k passages, so some are left uncited
    ticket = make_ticket(session, subject="Forgot password", body="The reset link never came.")

    result = triage(db_engine, engine, ticket, kb)

    assert result.draft_reply == "Use the reset link [1] within an hour."  # nothing appended
    assert len(result.citations) >= 2, "the test needs a shown passage left uncited"
    assert [c["cited"] for c in result.citations] == [True] + [False] * (len(result.citations) - 1)


def test_nothing_relevant_stores_no_citations(
    session: Session, db_engine: DbEngine, engine: RecordingEngine, kb: KnowledgeBase
) -> None:
    ticket = make_ticket(session, subject="Zebra", body="Quokka xylophone marmalade.")
    result = triage(db_engine, engine, ticket, kb)
    assert result.citations == []
    system = engine.chats[0][0]["content"]
    assert "no reference material" in system


def test_batch_embeds_all_queries_in_one_call(
    session: Session, engine: RecordingEngine, kb: KnowledgeBase
) -> None:
    from worker.drafting.prompting import TicketView

    jobs = [
        TriageJob(i, TicketView(s, b))
        for i, (s, b) in enumerate(
            [
                ("Parcel late", "Where is my parcel? Tracking has not changed."),
                ("Cancel", "How do I cancel my subscription?"),
                ("Zebra", "Quokka xylophone."),
            ]
        )
    ]
    calls = len(engine.embedder.calls)
    out = run_batch(engine, jobs, kb)
    assert len(engine.embedder.calls) == calls + 1
    assert len(engine.embedder.calls[-1]) == 3
    assert out[0].citations[0]["doc_id"] == "delivery-times"
    assert out[1].citations[0]["doc_id"] == "cancel-subscription"
    assert out[2].citations == []


def test_previous_tickets_reach_the_prompt(
    session: Session, db_engine: DbEngine, engine: RecordingEngine
) -> None:
    now = datetime.now(UTC)
    make_ticket(
        session,
        subject="Parcel never came",
        body="My parcel is late.",
        received_at=now - timedelta(days=20),
    )
    for days in (15, 10, 5):
        make_ticket(
            session,
            subject=f"Older {days}",
            body=f"body {days}",
            received_at=now - timedelta(days=days),
        )
    make_ticket(session, subject="Too old", body="ancient", received_at=now - timedelta(days=90))
    make_ticket(session, subject="Someone else", customer_email="bo@example.com")
    current = make_ticket(session, subject="Where is my parcel", body="Still waiting.")
    make_ticket(session, subject="Newer one", body="later")
    # A backfilled ticket: inserted last, but written before the current one.
    make_ticket(
        session,
        subject="Backfilled",
        body="from the old helpdesk",
        received_at=now - timedelta(days=1),
    )

    triage(db_engine, engine, current, None)

    user = engine.chats[0][1]["content"]
    history = user[user.index("<history>") : user.index("</history>")]
    assert [ln.split('"')[1] for ln in history.splitlines()[1:]] == [
        "Backfilled",
        "Older 5",
        "Older 10",
    ]
    for absent in ("Too old", "Someone else", "Newer one", "Parcel never came"):
        assert absent not in user


def test_history_summary_uses_review_and_skips_greeting(
    session: Session, db_engine: DbEngine, engine: RecordingEngine
) -> None:
    from worker.pipeline.history import load_history

    past = make_ticket(
        session,
        subject="Parcel never came",
        body="Hi team,\n\nMy parcel 881 is two weeks late.\nThanks",
        received_at=datetime.now(UTC) - timedelta(days=3),
    )
    with Session(db_engine) as s:
        assert past.id is not None
        result = make_result(s, past.id, category="other", classifier_version="1")
        assert result.id is not None
        s.add(
            Review(
                ticket_id=past.id,
                triage_result_id=result.id,
                decision=ReviewDecision.edit,
                reviewer="bob",
                corrected_category="shipping_delivery",
            )
        )
        s.commit()
    current = make_ticket(session, subject="Again", body="Where is it?")

    (summary,) = load_history(session, current)

    assert summary.subject == "Parcel never came"
    assert summary.first_line == "My parcel 881 is two weeks late."
    assert summary.category == "shipping_delivery"  # the reviewer's correction wins
    assert summary.decision == "edit"
    triage(db_engine, engine, current, None)
    assert (
        '"Parcel never came" (shipping delivery): My parcel 881 is two weeks late. [review: edit]'
    ) in engine.chats[0][1]["content"]


def test_fake_engine_without_kb_still_drafts(session: Session, db_engine: DbEngine) -> None:
    ticket = make_ticket(session)
    result = triage(db_engine, FakeEngine(), ticket, None)
    assert result.citations == [] and result.draft_reply.startswith("Dear customer,")


def test_runtime_builds_the_kb_with_the_fake_engine(
    session: Session, db_url: str, tmp_path: Path
) -> None:
    from shared.config import load_settings
    from worker.edge.runtime import start_runtime, stop_runtime

    import_paths(session, [sample_kb_dir()])
    rt = start_runtime(load_settings(database_url=db_url, data_dir=tmp_path, engine="fake"))
    try:
        assert rt.kb.size == len(session.exec(select(KbPassage)).all()) > 0
        ticket = make_ticket(session)
        assert ticket.id is not None
        outcome = process_ticket(
            ticket.id,
            1,
            db=rt.db,
            engine=rt.engine,
            submit=rt.stages.submit,
            worker=rt.name,
            threshold=0.5,
        )
        assert outcome is Outcome.triaged
    finally:
        stop_runtime()
