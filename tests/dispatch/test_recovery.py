"""Recovery re-sends a ticket only when no worker holds it and no queue carries its message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.broker_view import Head, Held
from dispatch.recovery import PUBLISH_LAG_S, Recovery
from shared.models import Ticket, TicketStatus, utcnow
from tests.factories import make_ticket

LEASE_S = 20
QUEUE = "tickets"


@dataclass
class FakeView:
    heads: dict[str, Head] = field(default_factory=dict)
    messages: list[Held] = field(default_factory=list)
    handed_back: list[str] = field(default_factory=list)
    held_reads: int = 0

    def head(self, queue: str) -> Head:
        return self.heads.get(queue, Head(None))

    def held(self) -> list[Held]:
        self.held_reads += 1
        return list(self.messages)

    def hand_back(self, tags: list[str]) -> int:
        self.handed_back += tags
        return len(tags)

    def lock(self, name: str, token: str, ttl_s: float) -> bool:
        return True

    def close(self) -> None:
        pass


def _recovery(db: Engine, view: FakeView) -> Recovery:
    return Recovery(db, view, [QUEUE, "tickets.backfill"], LEASE_S)


def _row(db: Engine, ticket_id: int | None) -> Ticket:
    with Session(db) as s:
        row = s.get(Ticket, ticket_id)
        assert row is not None
        return row


def _claimed(session: Session, seconds_ago: float, **fields: object) -> Ticket:
    return make_ticket(
        session, queue=QUEUE, enqueued_at=utcnow() - timedelta(seconds=seconds_ago), **fields
    )


def test_a_lost_message_is_sent_again_after_two_passes(session: Session, db_engine: Engine) -> None:
    lost = _claimed(session, 60)
    view = FakeView()
    rec = _recovery(db_engine, view)
    first = rec.run_pass()
    assert first.candidates == 1 and first.suspects == 1 and first.resent == []
    assert _row(db_engine, lost.id).enqueued_at is not None  # one absence is not proof
    second = rec.run_pass()
    assert second.resent == [lost.id]
    row = _row(db_engine, lost.id)
    assert row.enqueued_at is None and row.status == TicketStatus.queued  # the relay's again


def test_lost_processing_ticket_goes_back_to_queued(session: Session, db_engine: Engine) -> None:
    t = _claimed(
        session,
        120,
        status=TicketStatus.processing,
        lease_owner="dead:1",
        lease_expires_at=utcnow() - timedelta(seconds=5),
    )
    rec = _recovery(db_engine, FakeView())
    rec.run_pass()
    assert rec.run_pass().resent == [t.id]
    row = _row(db_engine, t.id)
    assert row.status == TicketStatus.queued and row.lease_owner is None


def test_nothing_is_touched_while_someone_holds_a_lease_or_it_was_claimed_recently(
    session: Session, db_engine: Engine
) -> None:
    _claimed(session, 60, lease_owner="w:1", lease_expires_at=utcnow() + timedelta(seconds=10))
    _claimed(session, LEASE_S / 2)  # a worker may not have leased it yet
    make_ticket(session, queue=QUEUE)  # unsent: the relay's, not recovery's
    _claimed(session, 60, status=TicketStatus.triaged)  # done
    view = FakeView()
    rec = _recovery(db_engine, view)
    for _ in range(3):
        assert rec.run_pass().candidates == 0
    assert view.held_reads == 0  # no candidates: Redis is not even read


def test_a_dead_workers_message_is_handed_back_not_duplicated(
    session: Session, db_engine: Engine
) -> None:
    t = _claimed(session, 90, status=TicketStatus.processing)
    now = utcnow().timestamp()
    assert t.id is not None
    view = FakeView(
        messages=[
            Held("old-tag", t.id, 1, now - LEASE_S - 30),
            Held("other-revision", t.id, 7, now - 300),
        ]
    )
    rec = _recovery(db_engine, view)
    for _ in range(3):
        assert rec.run_pass().resent == []
    assert view.handed_back == ["old-tag"] * 3
    assert _row(db_engine, t.id).enqueued_at is not None


def test_a_message_delivered_within_the_lease_is_left_to_its_worker(
    session: Session, db_engine: Engine
) -> None:
    t = _claimed(session, 90)
    assert t.id is not None
    view = FakeView(messages=[Held("fresh", t.id, 1, utcnow().timestamp() - 2)])
    rec = _recovery(db_engine, view)
    rec.run_pass()
    result = rec.run_pass()
    assert result.handed_back == 0 and result.resent == [] and view.handed_back == []


def test_tickets_behind_the_next_message_of_their_queue_are_waiting_not_lost(
    session: Session, db_engine: Engine
) -> None:
    waiting = _claimed(session, 100)
    taken = _claimed(session, 100 + PUBLISH_LAG_S + 30)
    head_claim = (utcnow() - timedelta(seconds=100 + PUBLISH_LAG_S / 2)).timestamp()
    view = FakeView(heads={QUEUE: Head(head_claim)})
    rec = _recovery(db_engine, view)
    rec.run_pass()
    assert rec.run_pass().resent == [taken.id]  # claimed well before the next message: taken
    assert _row(db_engine, waiting.id).enqueued_at is not None  # in the queue still


def test_a_queue_whose_next_message_has_no_claim_time_only_checks_taken_tickets(
    session: Session, db_engine: Engine
) -> None:
    _claimed(session, 300)  # may be anywhere in that queue
    taken = _claimed(session, 300, status=TicketStatus.processing)
    rec = _recovery(db_engine, FakeView(heads={QUEUE: Head(None, known=False)}))
    rec.run_pass()
    assert rec.run_pass().resent == [taken.id]


def test_a_ticket_that_changed_between_passes_is_not_released(
    session: Session, db_engine: Engine
) -> None:
    t = _claimed(session, 60)
    rec = _recovery(db_engine, FakeView())
    rec.run_pass()
    t.enqueued_at = utcnow() - timedelta(seconds=50)  # claimed again by a relay meanwhile
    session.add(t)
    session.commit()
    assert rec.run_pass().resent == []  # a new claim is a new suspect
    assert _row(db_engine, t.id).enqueued_at is not None
