"""The Celery task edge: transient errors retry with backoff, then fail with a reason."""

from collections.abc import Iterator

import pytest
from celery.exceptions import Retry
from sqlmodel import Session

from shared.config import Settings
from shared.errors import TransientError
from shared.models import Ticket
from tests.factories import make_ticket
from worker import runtime, tasks


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
