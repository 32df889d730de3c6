"""Persist first, send after: producers only commit; sending goes through the relay's claim."""

from sqlalchemy.engine import Engine
from sqlmodel import Session

from producer.intake import retriage, send_now, submit_ticket
from shared.models import Ticket, TicketCreate, TicketStatus, utcnow
from tests.helpers import RecordingPublisher


def test_submit_only_stores_the_ticket_unsent(session: Session) -> None:
    result = submit_ticket(session, TicketCreate(body="hello", external_id="s1"), "tickets")
    assert result.created
    stored = session.get(Ticket, result.ticket.id)
    assert stored is not None and stored.status == "queued" and stored.enqueued_at is None
    again = submit_ticket(session, TicketCreate(body="other", external_id="s1"), "tickets")
    assert not again.created and again.ticket.id == result.ticket.id


def test_retriage_bumps_the_revision_and_leaves_it_to_send(session: Session) -> None:
    q = RecordingPublisher()
    t = submit_ticket(session, TicketCreate(body="hello", external_id="r1"), "tickets").ticket
    assert t.id is not None
    assert send_now(session, q, [t.id]) == 1
    t.status, t.lease_owner, t.lease_expires_at = TicketStatus.triaged, "w1", utcnow()
    retriage(session, t, "tickets.backfill")
    assert t.status == "queued" and t.revision == 2 and t.enqueued_at is None
    assert t.lease_owner is None and t.lease_expires_at is None
    assert send_now(session, q, [t.id]) == 1
    assert q.sent == [(t.id, 1, "tickets"), (t.id, 2, "tickets.backfill")]
    assert send_now(session, q, [t.id]) == 0  # claimed already: never sent twice


class _WorkerView:
    """Sends like the real publisher, but first looks at the database the way a worker that got
    the message at once would: through a connection of its own, seeing only committed rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[tuple[TicketStatus, int] | None] = []
        self.checked_out: list[int] = []

    def send(self, ticket_id: int, revision: int, queue: str, claimed_at: object) -> None:
        self.checked_out.append(self.engine.pool.checkedout())  # type: ignore[attr-defined]
        with Session(self.engine) as other:
            row = other.get(Ticket, ticket_id)
            self.seen.append(None if row is None else (row.status, row.revision))


def test_the_ticket_is_committed_before_its_message_is_sent_and_no_connection_is_held(
    session: Session, db_engine: Engine
) -> None:
    view = _WorkerView(db_engine)
    t = submit_ticket(session, TicketCreate(body="hello", external_id="p1"), "tickets").ticket
    assert t.id is not None
    send_now(session, view, [t.id])
    retriage(session, t, "tickets")
    send_now(session, view, [t.id])
    assert view.seen == [(TicketStatus.queued, 1), (TicketStatus.queued, 2)]
    # A slow or dead Redis must not pin a database connection per producer.
    assert view.checked_out == [0, 0]
