"""The Celery task edge: transient errors retry with backoff, then fail with a reason; a
message is never acknowledged while its ticket's failure is unrecorded."""

from collections.abc import Iterator

import pytest
from celery.exceptions import Reject, Retry
from sqlalchemy.exc import DataError
from sqlmodel import Session

from shared.config import Settings
from shared.db import make_engine
from shared.errors import PermanentError, TransientError
from shared.models import Ticket
from tests.factories import make_ticket
from worker.edge import runtime, tasks
from worker.pipeline import triage


@pytest.fixture
def started(settings: Settings) -> Iterator[runtime.WorkerRuntime]:
    runtime.stop_runtime()
    rt = runtime.start_runtime(settings.model_copy(update={"max_retries": 2}))
    yield rt
    runtime.stop_runtime()


def _flaky(*_: object, **__: object) -> str:
    raise TransientError("database unavailable: OperationalError")


def test_transient_error_retries_then_fails(
    started: runtime.WorkerRuntime, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = make_ticket(session)
    monkeypatch.setattr(tasks, "process_ticket", _flaky)
    task = tasks.triage_ticket
    # Celery's own retry would publish to the broker; record the countdown instead.
    monkeypatch.setattr(task, "retry", lambda exc, countdown: Retry(exc=exc, when=countdown))
    task.push_request(retries=0, id="x1", called_directly=False)
    try:
        with pytest.raises(Retry) as info:
            task.run(t.id, 1)
        assert info.value.when == 1  # backoff: 1 s, then 2, 4, ... capped at 60
    finally:
        task.pop_request()
    task.push_request(retries=2, id="x2", called_directly=False)
    try:
        assert task.run(t.id, 1) == "failed"
    finally:
        task.pop_request()
    session.expire_all()
    ticket = session.get(Ticket, t.id)
    assert ticket is not None and ticket.status == "failed"
    assert ticket.last_error is not None and "gave up after 2 retries" in ticket.last_error


def test_task_triages_with_the_loaded_runtime(
    started: runtime.WorkerRuntime, session: Session
) -> None:
    t = make_ticket(session)
    assert tasks.triage_ticket.run(t.id, 1) == "triaged"
    assert tasks.triage_ticket.run(t.id, 1) == "duplicate"


DEAD_DB = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1"


def _run_task(ticket_id: int, retries: int) -> str:
    task = tasks.triage_ticket
    task.push_request(retries=retries, id=f"r{retries}", called_directly=False)
    try:
        return str(task.run(ticket_id, 1))
    finally:
        task.pop_request()


@pytest.fixture
def recorded_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery's own retry would publish to the broker; raise with the countdown instead."""
    monkeypatch.setattr(
        tasks.triage_ticket, "retry", lambda exc, countdown: Retry(exc=exc, when=countdown)
    )


@pytest.mark.usefixtures("recorded_retry")
def test_a_failure_that_cannot_be_recorded_is_retried_not_dropped(
    started: runtime.WorkerRuntime, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = make_ticket(session)
    live = started.db
    monkeypatch.setattr(started, "db", make_engine(DEAD_DB))
    with pytest.raises(Retry) as info:  # retries used up, and marking it failed fails too
        _run_task(t.id, retries=2)
    assert info.value.when == tasks.MAX_COUNTDOWN_S
    monkeypatch.setattr(started, "db", live)  # the database is back: the retry does the work
    assert _run_task(t.id, retries=3) == "triaged"


@pytest.mark.usefixtures("recorded_retry")
def test_a_permanent_failure_that_cannot_be_recorded_is_retried(
    started: runtime.WorkerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bad_ticket(*_: object, **__: object) -> str:
        raise PermanentError("model failed on this ticket: boom")

    monkeypatch.setattr(tasks, "process_ticket", bad_ticket)
    monkeypatch.setattr(started, "db", make_engine(DEAD_DB))
    with pytest.raises(Retry) as info:
        _run_task(1, retries=0)
    assert info.value.when == tasks.MAX_COUNTDOWN_S


@pytest.mark.usefixtures("recorded_retry")
def test_an_unexpected_error_marks_the_ticket_failed_with_its_reason(
    started: runtime.WorkerRuntime, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def store(*_: object, **__: object) -> str:
        raise DataError("INSERT INTO triage_result ...", {}, Exception("value too long"))

    monkeypatch.setattr(triage, "store", store)  # after the claim set the ticket processing
    t = make_ticket(session)
    assert _run_task(t.id, retries=0) == "failed"
    session.expire_all()
    ticket = session.get(Ticket, t.id)
    assert ticket is not None and ticket.status == "failed"
    assert ticket.last_error is not None
    assert ticket.last_error.startswith("unexpected error: DataError")


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Celery's ``Task.retry`` raises when it cannot publish the retry message."""

    def retry(exc: Exception, countdown: int) -> Retry:
        raise Reject(ConnectionError("Error 111 connecting to 127.0.0.1:6379"), requeue=False)

    monkeypatch.setattr(tasks.triage_ticket, "retry", retry)


@pytest.mark.usefixtures("broker_down")
def test_a_retry_the_broker_cannot_take_is_done_in_the_worker(
    started: runtime.WorkerRuntime, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = make_ticket(session)
    calls: list[int] = []

    def down_once(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise TransientError("database unavailable: OperationalError")
        return triage.process_ticket(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tasks, "process_ticket", down_once)
    assert _run_task(t.id, retries=0) == "triaged"  # not rejected, left to the timeout
    assert len(calls) == 2
    session.expire_all()
    ticket = session.get(Ticket, t.id)
    assert ticket is not None and ticket.status == "triaged"


@pytest.mark.usefixtures("broker_down")
def test_retries_done_in_the_worker_count_toward_the_limit(
    started: runtime.WorkerRuntime, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = make_ticket(session)
    monkeypatch.setattr(tasks, "process_ticket", _flaky)
    assert _run_task(t.id, retries=1) == "failed"  # one wait here (2 s), then max_retries=2
    session.expire_all()
    ticket = session.get(Ticket, t.id)
    assert ticket is not None and ticket.last_error is not None
    assert "gave up after 2 retries" in ticket.last_error
