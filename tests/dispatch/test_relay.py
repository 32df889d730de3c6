"""The relay's claim: each unsent ticket is claimed by exactly one relay, and a failed publish
gives back what it did not send."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch import relay as relay_mod
from dispatch.relay import Claim, claim, publish, relay, release
from shared.errors import TransientError
from shared.models import Ticket, TicketStatus, utcnow
from tests.factories import make_ticket
from tests.helpers import RecordingPublisher


def _enqueued_at(db: Engine, ticket_id: int | None) -> object:
    with Session(db) as s:
        row = s.get(Ticket, ticket_id)
        assert row is not None
        return row.enqueued_at


def test_claim_takes_unsent_queued_tickets_once_in_id_order(
    session: Session, db_engine: Engine
) -> None:
    old = utcnow() - timedelta(minutes=1)
    a = make_ticket(session, updated_at=old)
    b = make_ticket(session, updated_at=old)
    make_ticket(session, enqueued_at=utcnow())  # sent already
    make_ticket(session, status=TicketStatus.triaged)  # done
    fresh = make_ticket(session)  # stored just now: its producer's to send
    claims = claim(db_engine, stored_before=utcnow() - timedelta(seconds=5))
    assert [c.ticket_id for c in claims] == [a.id, b.id]
    assert _enqueued_at(db_engine, a.id) is not None
    assert claim(db_engine, stored_before=utcnow()) == [
        Claim(fresh.id or 0, 1, fresh.queue, claim_time)
        for claim_time in [_enqueued_at(db_engine, fresh.id)]
    ]
    assert claim(db_engine) == []


def test_concurrent_relays_never_claim_the_same_ticket(session: Session, db_engine: Engine) -> None:
    ids = {make_ticket(session).id for _ in range(60)}
    got: list[list[int]] = [[], [], []]

    def run(i: int) -> None:
        while batch := claim(db_engine, limit=7):
            got[i] += [c.ticket_id for c in batch]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for g in got for i in g]
    assert sorted(every) == sorted(ids)  # all claimed, none twice


def test_a_failed_publish_releases_what_was_not_sent(session: Session, db_engine: Engine) -> None:
    ids = [make_ticket(session).id for _ in range(4)]
    down = RecordingPublisher(fail_after=1)
    with pytest.raises(TransientError):
        relay(db_engine, down)
    assert [t for t, _, _ in down.sent] == ids[:1]
    assert _enqueued_at(db_engine, ids[0]) is not None
    assert [_enqueued_at(db_engine, i) for i in ids[1:]] == [None, None, None]
    back = RecordingPublisher()
    assert relay(db_engine, back) == 3  # the next pass sends the rest, once
    assert [t for t, _, _ in back.sent] == ids[1:]


def test_release_leaves_a_ticket_that_moved_on(session: Session, db_engine: Engine) -> None:
    t = make_ticket(session)
    (c,) = claim(db_engine)
    t.revision, t.enqueued_at = 2, utcnow()  # retriaged and claimed again meanwhile
    session.add(t)
    session.commit()
    release(db_engine, [c])
    assert _enqueued_at(db_engine, t.id) is not None


def test_a_claim_that_waited_too_long_is_released_not_published(
    session: Session, db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_ticket(session)
    claims = claim(db_engine)
    monkeypatch.setattr(relay_mod, "MAX_PUBLISH_LAG_S", -1.0)
    q = RecordingPublisher()
    assert publish(db_engine, q, claims) == 0 and q.sent == []
    assert _enqueued_at(db_engine, claims[0].ticket_id) is None  # claimed afresh next time
