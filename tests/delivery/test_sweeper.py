"""The sweeper makes rows of dead workers and lost messages due again, and nothing else."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from delivery.outboxes import REPLIES
from delivery.status import take
from delivery.sweeper import sweep
from dispatch.broker_view import Head
from dispatch.relay import claim
from shared.config import Settings
from shared.models import OutboundMessage, utcnow
from tests.delivery.conftest import approved


class OneHead:
    """A broker view whose queue's next message was claimed at ``claimed_at``."""

    def __init__(self, claimed_at: float | None) -> None:
        self.claimed_at = claimed_at

    def head(self, queue: str) -> Head:
        return Head(self.claimed_at)


def _rows(session: Session) -> list[OutboundMessage]:
    session.expire_all()
    return list(session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))).all())


def test_sweeps_dead_senders_and_lost_messages_only(session: Session, dsettings: Settings) -> None:
    db = session.get_bind()
    for i in range(4):
        approved(session, dsettings, external_id=f"s{i}")
    claims = claim(db, outbox=REPLIES)  # type: ignore[arg-type]
    assert len(claims) == 4
    a, b, c, d = (r.id or 0 for r in _rows(session))
    assert take(session, OutboundMessage, a, lease_s=60)  # a live worker sends a
    assert take(session, OutboundMessage, b, lease_s=60)  # a dead one held b
    long_ago = utcnow() - timedelta(seconds=120)
    session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == b)
        .values(lease_expires_at=long_ago)
    )
    # c's message was taken and lost long ago; d's, claimed 40 s ago (past lost_after_s), still
    # waits in the queue: the queue's next message was claimed before it.
    session.exec(
        update(OutboundMessage).where(col(OutboundMessage.id) == c).values(enqueued_at=long_ago)
    )
    forty_ago = utcnow() - timedelta(seconds=40)
    session.exec(
        update(OutboundMessage).where(col(OutboundMessage.id) == d).values(enqueued_at=forty_ago)
    )
    session.commit()
    head = OneHead((utcnow() - timedelta(seconds=60)).timestamp())  # behind it: 60+15 s ago
    result = sweep(db, lost_after_s=20, view=head, queue="q")  # type: ignore[arg-type]
    assert (result.resumed, result.lost) == (1, 1)
    rows = {r.id: r for r in _rows(session)}
    assert rows[a].status == "sending"
    assert rows[b].status == "pending" and rows[b].enqueued_at is None
    assert "stopped while sending" in (rows[b].last_error or "")
    assert rows[c].status == "pending" and rows[c].enqueued_at is None
    assert rows[d].enqueued_at is not None  # behind the queue's head: not lost
    assert sweep(db, 20, head, "q") == type(result)()  # type: ignore[arg-type]
    # Without a message waiting in the queue, d's is lost too.
    assert sweep(db, 20, OneHead(None), "q").lost == 1  # type: ignore[arg-type]
