"""Workers hold a lease on each ticket whose message they hold, and keep renewing it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
from celery.worker import state
from sqlalchemy.engine import Engine
from sqlmodel import Session

from shared.models import Ticket, TicketStatus, utcnow
from shared.task_names import TRIAGE_TICKET
from tests.factories import make_ticket
from worker.edge.leases import LeaseKeeper, held_tickets, renew


def _lease(db: Engine, ticket_id: int | None) -> tuple[str | None, object]:
    with Session(db) as s:
        row = s.get(Ticket, ticket_id)
        assert row is not None
        return row.lease_owner, row.lease_expires_at


def test_renew_holds_tickets_in_flight_only(session: Session, db_engine: Engine) -> None:
    queued = make_ticket(session)
    busy = make_ticket(session, status=TicketStatus.processing)
    done = make_ticket(session, status=TicketStatus.triaged)
    ids = [t.id for t in (queued, busy, done) if t.id is not None]
    assert renew(db_engine, ids, "w:1", 20) == 2
    owner, until = _lease(db_engine, busy.id)
    assert owner == "w:1" and isinstance(until, type(utcnow()))
    assert until > utcnow() + timedelta(seconds=15)
    assert _lease(db_engine, done.id) == (None, None)


def test_the_keeper_renews_every_quarter_lease(session: Session, db_engine: Engine) -> None:
    t = make_ticket(session, status=TicketStatus.processing)
    assert t.id is not None
    calls: list[float] = []

    def held() -> list[int]:
        calls.append(time.monotonic())
        return [t.id] if t.id is not None else []

    keeper = LeaseKeeper(db_engine, "w:2", lease_s=0.4, held=held)
    keeper.start()
    time.sleep(0.55)
    keeper.stop()
    assert len(calls) >= 4  # at start, then every 0.1 s
    assert _lease(db_engine, t.id)[0] == "w:2"


@dataclass(frozen=True)
class _Request:
    name: str
    args: tuple[int, ...]


def test_held_tickets_are_the_consumers_triage_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    requests = {
        _Request(TRIAGE_TICKET, (7, 2)),
        _Request("other.task", (9,)),
        _Request(TRIAGE_TICKET, (3, 1)),
    }
    monkeypatch.setattr(state, "reserved_requests", requests)
    # a retry waiting out its countdown in the timer is held too
    monkeypatch.setattr(state, "scheduled_requests", {_Request(TRIAGE_TICKET, (5, 1))})
    assert held_tickets() == [3, 5, 7]
