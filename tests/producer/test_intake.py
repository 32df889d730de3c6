"""Persist first, then enqueue; lost messages are found and re-sent."""

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from producer.intake import requeue_unsent, retriage, submit_ticket
from shared.models import Ticket, TicketCreate, TicketStatus, utcnow
from tests.factories import make_ticket
from tests.helpers import RecordingEnqueuer


def test_stuck_processing_ticket_is_resent_but_a_busy_one_is_not(session: Session) -> None:
    stuck = make_ticket(
        session,
        status=TicketStatus.processing,
        updated_at=utcnow() - timedelta(hours=2),
        enqueued_at=utcnow(),
    )
    make_ticket(session, status=TicketStatus.processing, updated_at=utcnow(), enqueued_at=utcnow())
    make_ticket(session, status=TicketStatus.triaged, enqueued_at=None)  # done: never re-sent
    q = RecordingEnqueuer()
    assert requeue_unsent(session, q, older_than_s=900) == 1
    assert q.sent == [(stuck.id, 1, "tickets")]


def test_retriage_bumps_the_revision_and_resends(session: Session) -> None:
    q = RecordingEnqueuer()
    result = submit_ticket(session, TicketCreate(body="hello", external_id="r1"), q, "tickets")
    t = result.ticket
    t.status = TicketStatus.triaged
    assert retriage(session, t, q, "tickets.backfill")
    assert q.sent == [(t.id, 1, "tickets"), (t.id, 2, "tickets.backfill")]
    assert t.status == "queued" and t.revision == 2 and t.enqueued_at is not None


class _WorkerView:
    """Sends like the real enqueuer, but first looks at the database the way a worker that got
    the message at once would: through a connection of its own, seeing only committed rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[tuple[TicketStatus, int] | None] = []

    def send(self, ticket_id: int, revision: int, queue: str) -> None:
        with Session(self.engine) as other:
            row = other.get(Ticket, ticket_id)
            self.seen.append(None if row is None else (row.status, row.revision))


def test_the_ticket_is_committed_before_its_message_is_sent(
    session: Session, db_engine: Engine
) -> None:
    view = _WorkerView(db_engine)
    result = submit_ticket(session, TicketCreate(body="hello", external_id="p1"), view, "tickets")
    assert view.seen == [(TicketStatus.queued, 1)]
    assert retriage(session, result.ticket, view, "tickets")
    assert view.seen[-1] == (TicketStatus.queued, 2)  # the new revision, not the old one


class _PoolWatcher:
    """Records how many pooled connections are checked out while the message is published."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.checked_out: list[int] = []

    def send(self, ticket_id: int, revision: int, queue: str) -> None:
        self.checked_out.append(self.engine.pool.checkedout())  # type: ignore[attr-defined]


def test_no_connection_is_held_while_publishing(session: Session, db_engine: Engine) -> None:
    # A slow or dead Redis must not pin a database connection per request.
    watcher = _PoolWatcher(db_engine)
    result = submit_ticket(session, TicketCreate(body="hello", external_id="h1"), watcher, "q")
    retriage(session, result.ticket, watcher, "q")
    make_ticket(session, enqueued_at=None, updated_at=utcnow() - timedelta(minutes=5))
    requeue_unsent(session, watcher, older_than_s=900)
    assert watcher.checked_out == [0, 0, 0]


def test_the_sweep_reads_in_pages_and_stops_when_redis_refuses(session: Session) -> None:
    old = utcnow() - timedelta(minutes=5)
    ids = [make_ticket(session, enqueued_at=None, updated_at=old).id for _ in range(5)]
    q = RecordingEnqueuer()
    assert requeue_unsent(session, q, older_than_s=900, page_size=2) == 5
    assert [t for t, _, _ in q.sent] == ids  # every page, in id order, each once

    more = [make_ticket(session, enqueued_at=None, updated_at=old).id for _ in range(4)]
    down = RecordingEnqueuer(fail_after=1)  # Redis goes away after one message
    assert requeue_unsent(session, down, older_than_s=900, page_size=2) == 1
    assert [t for t, _, _ in down.sent] == more[:1]  # no retry storm against a dead Redis
    assert requeue_unsent(session, q, older_than_s=900, page_size=2) == 3  # the next pass
