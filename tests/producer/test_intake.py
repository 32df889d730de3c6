"""Persist first, then enqueue; lost messages are found and re-sent."""

from datetime import timedelta

from sqlmodel import Session

from producer.intake import requeue_unsent, retriage, submit_ticket
from shared.models import TicketCreate, TicketStatus, utcnow
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
