"""The per-ticket pipeline on real databases, with the deterministic engine."""

import pytest
import torch
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, select

from shared.db import make_engine
from shared.errors import PermanentError, TransientError
from shared.models import Ticket, TriageResult
from tests.factories import make_ticket
from worker.engine.fake_engine import FAIL_MARKER, FakeEngine
from worker.pipeline.triage import (
    Outcome,
    TriageJob,
    TriageOutput,
    mark_failed,
    process_ticket,
    run_batch,
)


def _run(db: DbEngine, engine: FakeEngine, ticket_id: int, revision: int = 1) -> Outcome:
    def submit(job: TriageJob) -> TriageOutput:
        return run_batch(engine, [job])[0]

    return process_ticket(
        ticket_id, revision, db=db, engine=engine, submit=submit, worker="test", threshold=0.5
    )


def test_ticket_is_triaged_once(session: Session, db_engine: DbEngine) -> None:
    t = make_ticket(session)
    engine = FakeEngine()
    assert _run(db_engine, engine, t.id) == Outcome.triaged
    assert _run(db_engine, engine, t.id) == Outcome.duplicate  # redelivery
    session.expire_all()
    results = session.exec(select(TriageResult).where(TriageResult.ticket_id == t.id)).all()
    assert len(results) == 1
    r = results[0]
    assert r.category == "refund_cancellation" and 0 <= r.category_confidence <= 1
    # The reply opens in the ticket language (en here) and the engine continues it.
    assert r.draft_reply.startswith("Dear customer,\n\nThank you for contacting us. We are")
    assert r.engine_instance == engine.info.instance_id
    ticket = session.get(Ticket, t.id)
    assert ticket is not None and ticket.status == "triaged" and ticket.attempts == 1


def test_low_confidence_is_flagged_for_human_triage(session: Session, db_engine: DbEngine) -> None:
    t = make_ticket(session, subject="hello", body="something unrelated")
    _run(db_engine, FakeEngine(), t.id)
    r = session.exec(select(TriageResult)).one()
    assert r.category == "other" and r.needs_human_triage
    assert r.alternatives["category"][0]["label"] == "other"


def test_stale_revision_is_skipped(session: Session, db_engine: DbEngine) -> None:
    t = make_ticket(session, revision=2)
    assert _run(db_engine, FakeEngine(), t.id, revision=1) == Outcome.stale
    assert session.exec(select(TriageResult)).all() == []


def test_missing_ticket(db_engine: DbEngine) -> None:
    assert _run(db_engine, FakeEngine(), 999_999) == Outcome.missing


def test_engine_failure_is_permanent_with_reason(session: Session, db_engine: DbEngine) -> None:
    t = make_ticket(session, body=f"please {FAIL_MARKER}")
    with pytest.raises(PermanentError, match="model failed on this ticket"):
        _run(db_engine, FakeEngine(), t.id)
    mark_failed(db_engine, t.id, 1, "model failed on this ticket: boom")
    session.expire_all()
    ticket = session.get(Ticket, t.id)
    assert ticket is not None and ticket.status == "failed"
    assert ticket.last_error == "model failed on this ticket: boom"


def test_unreachable_database_is_transient(tmp_path) -> None:
    dead = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(TransientError, match="database unavailable"):
        _run(dead, FakeEngine(), 1)


def test_result_records_the_version_that_labelled_it(session: Session, db_engine: DbEngine) -> None:
    """A reload between classify and store must not re-stamp the result with the new version."""
    from dataclasses import replace

    class ReloadingEngine(FakeEngine):
        def classify(self, texts):  # type: ignore[no-untyped-def]
            out = [replace(c, classifier_version="v-old") for c in super().classify(texts)]
            self.info = replace(self.info, classifier_version="v-new")  # reload right after
            return out

    t = make_ticket(session)
    _run(db_engine, ReloadingEngine(), t.id)
    assert session.exec(select(TriageResult)).one().classifier_version == "v-old"


@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("MPS backend out of memory (MPS allocated: 8.00 GB)"),
        MemoryError(),
    ],
)
def test_out_of_memory_in_the_model_stage_is_transient(
    session: Session, db_engine: DbEngine, error: Exception
) -> None:
    """Memory runs out for a batch or a moment, not for a ticket: retry, do not fail it."""
    t = make_ticket(session)

    def submit(job: TriageJob) -> TriageOutput:
        raise error

    with pytest.raises(TransientError, match="out of memory"):
        process_ticket(
            t.id, 1, db=db_engine, engine=FakeEngine(), submit=submit, worker="w", threshold=0.5
        )
    assert _run(db_engine, FakeEngine(), t.id) == Outcome.triaged  # the retry
