"""The relay loop: a nudged ticket goes out at once, others after the hand-off, and an outage
only delays them."""

from __future__ import annotations

import time

from sqlmodel import Session

from dispatch.service import DispatchService
from shared.config import Settings
from tests.factories import make_ticket
from tests.helpers import FlakyPublisher, RecordingPublisher


def _service(
    settings: Settings, publisher: RecordingPublisher, **changes: object
) -> DispatchService:
    tuned = settings.model_copy(update={"relay_poll_s": 0.1, "recovery_interval_s": 0, **changes})
    return DispatchService(tuned, publisher)


def test_a_nudged_ticket_is_sent_at_once_and_others_after_the_handoff(
    settings: Settings, session: Session
) -> None:
    q = RecordingPublisher()
    service = _service(settings, q, relay_handoff_s=1.5)
    service.start()
    try:
        other = make_ticket(session)  # stored by another producer, not nudged
        mine = make_ticket(session)
        assert mine.id is not None
        service.nudge(mine.id)
        assert [t for t, _, _ in q.wait_for(1)] == [mine.id]
        time.sleep(0.5)
        assert len(q.sent) == 1  # the other producer still has its hand-off time
        assert [t for t, _, _ in q.wait_for(2)][1] == other.id
    finally:
        service.stop()
    assert len(q.sent) == 2


def test_tickets_stored_during_an_outage_go_out_once_it_ends(
    settings: Settings, session: Session
) -> None:
    q = FlakyPublisher()
    service = _service(settings, q, relay_handoff_s=0)
    service.start()
    try:
        ids = [make_ticket(session).id for _ in range(3)]
        service.nudge(*[i for i in ids if i is not None])
        deadline = time.monotonic() + 10
        while q.refused < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert q.refused >= 2 and q.sent == []  # retried, with back-off, not given up
        q.up = True
        assert sorted(t for t, _, _ in q.wait_for(3)) == ids
    finally:
        service.stop()
    assert len(q.sent) == 3  # each once
