"""Idempotent, resumable import against both real databases (the queue is a recording double)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from producer.backfill import importer as importer_mod
from producer.backfill.importer import ImportCounts, Importer
from producer.backfill.ratelimit import RateLimiter
from producer.backfill.reader import InvalidRow, RowReader
from shared.errors import QueueUnavailable
from shared.models import Ticket
from tests.factories import make_ticket
from tests.helpers import RecordingPublisher

FIXTURES = Path(__file__).parents[1] / "fixtures"
SAMPLE = FIXTURES / "banking77_sample.csv"
QUEUE = "tickets.backfill"


def run(session: Session, publisher: RecordingPublisher, path: Path = SAMPLE, **kw: object):
    with RowReader(path) as reader:
        return Importer(session, publisher, QUEUE, chunk_size=64, **kw).run(reader)  # type: ignore[arg-type]


def ticket_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Ticket)).one()


def test_import_stores_and_enqueues_each_row_once(session: Session) -> None:
    publisher = RecordingPublisher()
    counts = run(session, publisher)
    assert counts == ImportCounts(read=200, new=200, enqueued=200)
    assert ticket_count(session) == 200
    assert {q for _, _, q in publisher.sent} == {QUEUE}
    assert len({tid for tid, _, _ in publisher.sent}) == 200
    stored = session.exec(select(Ticket)).all()
    assert all(t.enqueued_at is not None and t.queue == QUEUE for t in stored)
    assert {t.source for t in stored} == {"backfill"}

    again = RecordingPublisher()
    counts = run(session, again)
    assert counts == ImportCounts(read=200, duplicate=200)
    assert again.sent == []
    assert ticket_count(session) == 200


def test_rerun_after_lost_queue_sends_only_the_rest(session: Session) -> None:
    first = RecordingPublisher(fail_after=70)
    with pytest.raises(QueueUnavailable, match="run the same command again"):
        run(session, first)
    assert len(first.sent) == 70
    # The whole chunk that was being sent is stored; nothing after it was read into the DB.
    assert ticket_count(session) == 128

    second = RecordingPublisher()
    counts = run(session, second)
    assert counts.new == 72 and counts.resumed == 58 and counts.duplicate == 70
    assert counts.enqueued == 130
    sent_ids = [tid for tid, _, _ in first.sent + second.sent]
    assert len(sent_ids) == len(set(sent_ids)) == 200


def test_rows_stored_but_never_enqueued_are_sent_on_rerun(session: Session) -> None:
    with RowReader(SAMPLE) as reader:
        rows = [r for r in reader][:3]
    # A crash between commit and publish: rows exist, enqueued_at is empty.
    for row in rows:
        make_ticket(session, **row.ticket.model_dump(), queue=QUEUE)  # type: ignore[union-attr]
    publisher = RecordingPublisher()
    counts = run(session, publisher)
    assert (counts.new, counts.resumed, counts.duplicate, counts.enqueued) == (197, 3, 0, 200)


def test_dry_run_counts_and_touches_nothing(session: Session) -> None:
    publisher = RecordingPublisher()
    counts = run(session, publisher, dry_run=True)
    assert counts == ImportCounts(read=200, new=200)
    assert ticket_count(session) == 0 and publisher.sent == []

    run(session, RecordingPublisher())
    counts = run(session, publisher, dry_run=True)
    assert counts == ImportCounts(read=200, duplicate=200)
    assert publisher.sent == []


def test_dry_run_on_empty_db_counts_duplicates_within_the_file(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,body\n1,a\n2,b\n1,a again\n3,\n")
    publisher = RecordingPublisher()
    counts = run(session, publisher, path=path, dry_run=True)
    assert counts == ImportCounts(read=4, new=2, duplicate=1, invalid=1)
    assert ticket_count(session) == 0 and publisher.sent == []


def test_invalid_rows_are_passed_on_and_not_stored(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,body\n1,good\n2,\n3,also good\n")
    seen: list[InvalidRow] = []
    counts = run(session, RecordingPublisher(), path=path, on_invalid=seen.append)
    assert counts == ImportCounts(read=3, new=2, invalid=1, enqueued=2)
    assert [r.line for r in seen] == [3]


def test_concurrent_insert_falls_back_to_row_by_row(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "race.csv"
    path.write_text("id,body\n1,one\n2,two\n3,three\n")
    # Another producer stored id 2 after our lookup: make the lookup miss it.
    make_ticket(session, source="backfill", external_id="2", body="two", queue=QUEUE)
    monkeypatch.setattr(importer_mod, "find_stored", lambda session, tickets: {})
    publisher = RecordingPublisher()
    counts = run(session, publisher, path=path)
    assert (counts.new, counts.duplicate, counts.enqueued) == (2, 1, 2)
    assert ticket_count(session) == 3


def test_rate_limit_spaces_sends(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("body\n" + "".join(f"ticket {i}\n" for i in range(5)))
    now = [0.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=sleep)
    counts = run(session, RecordingPublisher(), path=path, rate=2.0, limiter=limiter)
    assert counts.enqueued == 5
    assert now[0] == pytest.approx(2.0)  # 5 sends at 2/s: the last one at t=2s
    assert sleeps == pytest.approx([0.5] * 4)


def test_rate_limiter_earns_no_burst_after_a_pause() -> None:
    now = [0.0]
    slept: list[float] = []
    limiter = RateLimiter(10.0, clock=lambda: now[0], sleep=lambda s: slept.append(s))
    limiter.wait()
    now[0] = 5.0  # long pause (e.g. a slow insert)
    limiter.wait()
    limiter.wait()
    assert slept == pytest.approx([0.1])


def test_rows_the_database_cannot_hold_are_invalid_not_fatal(
    session: Session, tmp_path: Path
) -> None:
    """A NUL (refused by PostgreSQL), a lone surrogate or an impossible date used to stop the
    whole import with no line number, and every rerun stopped at the same row."""
    lines = [
        json.dumps({"text": f"my card {i} does not work", "received_at": "2024-05-01T10:00:00"})
        for i in range(300)
    ]
    lines[150] = json.dumps({"text": "nul \u0000 here"})
    lines[151] = '{"text": "lone \\ud800 surrogate"}'
    lines[152] = json.dumps({"text": "old", "received_at": "0001-01-01T00:00:00+05:00"})
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    invalid: list[InvalidRow] = []
    counts = run(session, RecordingPublisher(), path, on_invalid=invalid.append)
    assert (counts.new, counts.invalid) == (297, 3)
    reasons = {row.line: row.reason for row in invalid}
    assert set(reasons) == {151, 152, 153}
    assert "NUL" in reasons[151] and "unicode" in reasons[152]
    assert "out of range" in reasons[153]
    assert ticket_count(session) == 297
