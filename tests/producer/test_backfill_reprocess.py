"""Re-processing stored tickets by filter: selection, retriage, resumability, run markers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from producer.backfill.marker import RunMarker, marker_key
from producer.backfill.ratelimit import RateLimiter
from producer.backfill.reprocess import (
    ReprocessCounts,
    ReprocessFilter,
    count_candidates,
    reprocess,
)
from shared.errors import InputError, QueueUnavailable
from shared.models import Ticket, TicketStatus, utcnow
from tests.factories import make_result, make_ticket
from tests.helpers import RecordingPublisher

QUEUE = "tickets.backfill"
LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


def triaged(session: Session, revision: int = 1, **overrides: Any) -> Ticket:
    fields: dict[str, Any] = {
        "status": TicketStatus.triaged,
        "revision": revision,
        "enqueued_at": LONG_AGO,
    }
    fields.update(overrides)
    return make_ticket(session, **fields)


def add_result(
    session: Session,
    ticket: Ticket,
    revision: int,
    category: str = "card_arrival",
    version: str = "clf-v1",
    draft: str = "draft-a",
) -> None:
    make_result(
        session,
        ticket.id,
        revision=revision,
        category=category,
        classifier_version=version,
        draft_model=draft,
    )


def test_filters_select_by_status_dates_category_and_model(session: Session) -> None:
    old = triaged(session, received_at=datetime(2023, 3, 1, tzinfo=UTC))
    add_result(session, old, 1, category="refund", version="clf-v1")
    recat = triaged(session, revision=2)
    add_result(session, recat, 1, category="refund")  # an older result does not count
    add_result(session, recat, 2, category="card_arrival", draft="draft-b")
    failed = make_ticket(session, status=TicketStatus.failed, enqueued_at=LONG_AGO)
    approved = triaged(session, status=TicketStatus.approved)
    add_result(session, approved, 1, category="refund")
    make_ticket(session, status=TicketStatus.queued, enqueued_at=LONG_AGO)  # in flight
    now = utcnow()

    def count(**kw: Any) -> int:
        return count_candidates(session, ReprocessFilter(**kw), now, QUEUE)

    assert count() == 3  # triaged + failed by default; reviewed and in-flight are left alone
    assert count(statuses=(TicketStatus.approved,)) == 1
    assert count(category="refund") == 1
    assert count(category="refund", statuses=(TicketStatus.triaged, TicketStatus.approved)) == 2
    assert count(model_version="clf-v1") == 2  # latest results of old and recat
    assert count(model_version="draft-b") == 1
    assert count(until=datetime(2024, 1, 1, tzinfo=UTC)) == 1  # old, by received_at
    assert count(since=datetime(2024, 1, 1, tzinfo=UTC)) == 2  # created now
    assert count(category="nope") == 0

    publisher = RecordingPublisher()
    counts = reprocess(
        session, ReprocessFilter(category="refund"), publisher, QUEUE, started_at=now
    )
    assert counts == ReprocessCounts(matched=1, requeued=1, enqueued=1)
    assert publisher.sent == [(old.id, 2, QUEUE)]
    session.refresh(old)
    assert (old.status, old.revision, old.queue) == (TicketStatus.queued, 2, QUEUE)
    assert old.enqueued_at is not None and old.enqueued_at >= now
    session.refresh(failed)
    assert failed.revision == 1 and failed.status == TicketStatus.failed


def test_rerun_does_not_requeue_what_the_run_already_did(session: Session) -> None:
    tickets = [triaged(session) for _ in range(5)]
    for t in tickets:
        add_result(session, t, 1)
    started = utcnow()
    first = RecordingPublisher()
    reprocess(session, ReprocessFilter(), first, QUEUE, started_at=started)
    assert sorted(tid for tid, _, _ in first.sent) == sorted(t.id or 0 for t in tickets)

    # Workers triage the new revisions; the tickets match --status triaged again.
    for t in tickets:
        session.refresh(t)
        add_result(session, t, t.revision, version="clf-v2")
        t.status = TicketStatus.triaged
        session.add(t)
    session.commit()

    again = RecordingPublisher()
    counts = reprocess(session, ReprocessFilter(), again, QUEUE, started_at=started)
    assert counts == ReprocessCounts() and again.sent == []
    # A new run (new marker) does re-process them.
    counts = reprocess(session, ReprocessFilter(), again, QUEUE, started_at=utcnow())
    assert counts.enqueued == 5


def test_lost_queue_then_resume_bumps_each_revision_once(session: Session) -> None:
    tickets = [triaged(session) for _ in range(6)]
    started = utcnow()
    first = RecordingPublisher(fail_after=2)
    partial = ReprocessCounts()
    with pytest.raises(QueueUnavailable, match="run the same command again"):
        reprocess(session, ReprocessFilter(), first, QUEUE, started_at=started, counts=partial)
    assert partial.enqueued == 2

    second = RecordingPublisher()
    counts = reprocess(session, ReprocessFilter(), second, QUEUE, started_at=started)
    # The third ticket got its new revision but no message: it is sent, not bumped again.
    assert counts == ReprocessCounts(matched=4, requeued=3, resumed=1, enqueued=4)
    sent = first.sent + second.sent
    assert sorted(tid for tid, _, _ in sent) == sorted(t.id or 0 for t in tickets)
    assert {rev for _, rev, _ in sent} == {2}
    for t in tickets:
        session.refresh(t)
        assert t.revision == 2 and t.enqueued_at is not None


def test_rate_limit_applies_to_reprocess(session: Session) -> None:
    for _ in range(3):
        triaged(session)
    clock = [0.0]

    def sleep(s: float) -> None:
        clock[0] += s

    limiter = RateLimiter(4.0, clock=lambda: clock[0], sleep=sleep)
    reprocess(
        session,
        ReprocessFilter(),
        RecordingPublisher(),
        QUEUE,
        started_at=utcnow(),
        limiter=limiter,
    )
    assert clock[0] == pytest.approx(0.5)


def test_run_marker_resumes_until_finished(tmp_path: Path) -> None:
    key = marker_key({"statuses": ["triaged"], "queue": QUEUE})
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    fresh = RunMarker.open(tmp_path, key, t0)
    assert not fresh.resumed and not fresh.path.exists()
    fresh.save({"queue": QUEUE})

    later = RunMarker.open(tmp_path, key, t0 + timedelta(hours=1))
    assert later.resumed and later.started_at == t0
    later.finish()
    assert not RunMarker.open(tmp_path, key, t0 + timedelta(hours=2)).resumed
    assert marker_key({"a": 1}) != marker_key({"a": 2})


def test_corrupt_marker_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "reprocess-k.json").write_text("{")
    with pytest.raises(InputError, match="delete it to start over"):
        RunMarker.open(tmp_path, "k", utcnow())
