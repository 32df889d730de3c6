"""Status writes during triage against a producer and a second delivery racing them, on real
databases. The races are made deterministic by running the rival write right before the
worker's own ``UPDATE ticket`` reaches the database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, select

from shared.models import Ticket, TriageResult
from tests.factories import make_result, make_ticket
from worker.engine.fake_engine import FakeEngine
from worker.pipeline.triage import (
    Outcome,
    TriageJob,
    TriageOutput,
    mark_failed,
    process_ticket,
    run_batch,
)

ENGINE = FakeEngine()


def _submit(job: TriageJob) -> TriageOutput:
    return run_batch(ENGINE, [job])[0]


def _process(db: DbEngine, ticket_id: int, submit: Callable[[TriageJob], TriageOutput]) -> Outcome:
    return process_ticket(
        ticket_id, 1, db=db, engine=ENGINE, submit=submit, worker="w", threshold=0.5
    )


@pytest.fixture
def before_ticket_update(db_engine: DbEngine) -> Iterator[Callable[[Callable[[], None]], None]]:
    """``arm(rival)``: run ``rival`` once, just before the worker's next UPDATE of a ticket."""
    armed: list[Callable[[], None]] = []

    def hook(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE TICKET") and armed:
            armed.pop()()

    event.listen(db_engine, "before_cursor_execute", hook)
    yield armed.append
    event.remove(db_engine, "before_cursor_execute", hook)


def _retriage(db_url: str, ticket_id: int) -> Callable[[], None]:
    """What the producer does on a new message in the thread, on its own connection."""

    def rival() -> None:
        from shared.db import make_engine

        other = make_engine(db_url)
        with other.begin() as conn:
            conn.execute(
                text(
                    "UPDATE ticket SET revision = revision + 1, status = 'queued', "
                    "body = body || ' NEW MESSAGE' WHERE id = :id"
                ),
                {"id": ticket_id},
            )
        other.dispose()

    return rival


def _ticket(session: Session, ticket_id: int) -> Ticket:
    session.expire_all()
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    return ticket


def test_claim_leaves_a_revision_queued_meanwhile_alone(
    session: Session, db_engine: DbEngine, db_url: str, before_ticket_update: Any
) -> None:
    t = make_ticket(session)
    before_ticket_update(_retriage(db_url, t.id))
    assert _process(db_engine, t.id, _submit) == Outcome.stale
    ticket = _ticket(session, t.id)
    assert (ticket.revision, ticket.status, ticket.attempts) == (2, "queued", 0)
    assert session.exec(select(TriageResult)).all() == []


def test_store_does_not_mark_a_newer_revision_triaged(
    session: Session, db_engine: DbEngine, db_url: str, before_ticket_update: Any
) -> None:
    t = make_ticket(session)
    retriage = _retriage(db_url, t.id)

    def submit(job: TriageJob) -> TriageOutput:
        if db_engine.dialect.name == "sqlite":
            # SQLite holds its write lock from the result insert on, so the producer can only
            # strike before it: during generation.
            retriage()
        else:  # PostgreSQL: as late as possible, between the insert and the status update
            before_ticket_update(retriage)
        return _submit(job)

    assert _process(db_engine, t.id, submit) == Outcome.triaged
    ticket = _ticket(session, t.id)
    assert (ticket.revision, ticket.status) == (2, "queued")  # revision 2 still to be done
    assert [r.revision for r in session.exec(select(TriageResult)).all()] == [1]


def test_a_failure_is_not_recorded_on_a_newer_revision(
    session: Session, db_engine: DbEngine, db_url: str, before_ticket_update: Any
) -> None:
    t = make_ticket(session)
    before_ticket_update(_retriage(db_url, t.id))
    assert mark_failed(db_engine, t.id, 1, "model failed on this ticket: boom") is False
    ticket = _ticket(session, t.id)
    assert (ticket.revision, ticket.status, ticket.last_error) == (2, "queued", None)


def test_concurrent_deliveries_store_one_result_and_report_duplicate(
    session: Session, db_engine: DbEngine
) -> None:
    t = make_ticket(session)
    both_claimed = threading.Barrier(2, timeout=30)

    def submit(job: TriageJob) -> TriageOutput:
        both_claimed.wait()  # both deliveries are past their claim before either stores
        return _submit(job)

    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(_process, db_engine, t.id, submit) for _ in range(2)]
        outcomes = sorted(r.result(timeout=60) for r in runs)
    assert outcomes == [Outcome.duplicate, Outcome.triaged]
    assert len(session.exec(select(TriageResult)).all()) == 1
    assert _ticket(session, t.id).status == "triaged"


def test_a_delivery_that_loses_the_race_to_a_result_reports_duplicate(
    session: Session, db_engine: DbEngine, before_ticket_update: Any
) -> None:
    """The first delivery stores between the second one's checks and its claim."""
    t = make_ticket(session)
    before_ticket_update(lambda: _process(db_engine, t.id, _submit))
    assert _process(db_engine, t.id, _submit) == Outcome.duplicate
    ticket = _ticket(session, t.id)
    assert ticket.status == "triaged" and ticket.attempts == 1
    assert mark_failed(db_engine, t.id, 1, "late failure of the loser") is False
    assert _ticket(session, t.id).status == "triaged"


def test_a_redelivery_repairs_a_ticket_left_processing_beside_its_result(
    session: Session, db_engine: DbEngine
) -> None:
    """A delivery that lost the race before this fix left exactly this state behind."""
    t = make_ticket(session, status="processing")
    make_result(session, t.id)
    assert _process(db_engine, t.id, _submit) == Outcome.duplicate
    assert _ticket(session, t.id).status == "triaged"
