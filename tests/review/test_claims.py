"""Claims on SQLite and PostgreSQL: one reviewer per ticket, "next" hands out different tickets
to reviewers pressing it at once, and an expired claim is free again."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from review.claims import claim, claim_next, release
from review.filters import QueueFilter
from shared.errors import ConflictError, NotFoundError
from shared.models import ApiKey, AuditEvent, Review, Ticket, utcnow
from tests.factories import make_api_key, make_result, make_triaged
from tests.producer.conftest import INTAKE_KEY, KEY


def _as(session: Session, name: str) -> dict[str, str]:
    """A reviewer's own key (read and review scopes); it records reviews as ``key:NAME``."""
    raw = f"tf_{name:0<12}_{name}-review-key"
    if session.exec(select(ApiKey).where(ApiKey.name == name)).first() is None:
        make_api_key(session, raw, ["read", "review"], name)
    return {"X-API-Key": raw}


def test_a_claimed_ticket_is_nobody_elses(session: Session) -> None:
    t = make_triaged(session)
    assert claim(session, t.id or 0, "ana", 300).claimed_by == "ana"
    with pytest.raises(ConflictError, match="ana is working on ticket"):
        claim(session, t.id or 0, "bob", 300)
    assert claim(session, t.id or 0, "ana", 300).claimed_by == "ana"  # renewing is fine
    release(session, t.id or 0, "bob")  # not bob's: nothing happens
    assert session.get_one(Ticket, t.id, populate_existing=True).claimed_by == "ana"
    release(session, t.id or 0, "ana")
    assert claim(session, t.id or 0, "bob", 300).claimed_by == "bob"
    with pytest.raises(NotFoundError):
        claim(session, 999_999, "bob", 300)


def test_an_expired_claim_is_free_again(session: Session) -> None:
    t = make_triaged(session)
    claim(session, t.id or 0, "ana", 300)
    session.exec(
        update(Ticket)
        .where(col(Ticket.id) == t.id)
        .values(claimed_until=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    assert claim(session, t.id or 0, "bob", 300).claimed_by == "bob"


def test_next_gives_the_queue_in_order_and_gives_back_the_previous(session: Session) -> None:
    urgent = make_triaged(session, result={"priority": "urgent"}, subject="u")
    normal = make_triaged(session, subject="n")
    first = claim_next(session, "ana", 300)
    assert first is not None and first.id == urgent.id
    second = claim_next(session, "ana", 300, after_id=first.id)
    assert second is not None and second.id == normal.id
    # ana moved on: the urgent one is free for bob, and ana holds one ticket only
    bobs = claim_next(session, "bob", 300)
    assert bobs is not None and bobs.id == urgent.id
    held = session.exec(select(Ticket).where(Ticket.claimed_by == "ana")).all()
    assert [h.id for h in held] == [normal.id]
    # nothing free for carl, nor another one for ana (who keeps hers)
    assert claim_next(session, "carl", 300) is None
    assert claim_next(session, "ana", 300, after_id=normal.id) is None
    assert session.get_one(Ticket, normal.id, populate_existing=True).claimed_by == "ana"
    # bob moves past the last ticket: "next" wraps to the top, which he had given back
    release(session, normal.id or 0, "ana")
    again = claim_next(session, "bob", 300, after_id=normal.id)
    assert again is not None and again.id == normal.id
    wrapped = claim_next(session, "bob", 300, after_id=normal.id)
    assert wrapped is not None and wrapped.id == urgent.id


def test_next_respects_the_filter(session: Session) -> None:
    make_triaged(session, result={"category": "billing"})
    refund = make_triaged(session, result={"category": "refund"})
    got = claim_next(session, "ana", 300, QueueFilter(category="refund"))
    assert got is not None and got.id == refund.id
    assert claim_next(session, "bob", 300, QueueFilter(category="refund")) is None


def test_reviewers_pressing_next_at_once_get_different_tickets(db_engine: Engine) -> None:
    """Eight reviewers, each pressing next five times in a row, all started together: every
    claim lands on its own ticket (40 tickets, 40 claims, no ticket twice)."""
    with Session(db_engine) as s:
        ids = {make_triaged(s, external_id=f"c{i}").id for i in range(40)}
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def reviewer(name: str) -> None:
        try:
            mine: list[int] = []
            with Session(db_engine, expire_on_commit=False) as s:
                start.wait()
                for _ in range(5):
                    t = claim_next(s, name, 300)
                    assert t is not None
                    mine.append(t.id or 0)
                    # keep it: mark it decided by hand so the next press moves on
                    s.exec(update(Ticket).where(col(Ticket.id) == t.id).values(status="approved"))
                    s.commit()
            got[name] = mine
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=reviewer, args=(f"r{i}",)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    claimed = [i for mine in got.values() for i in mine]
    assert len(claimed) == 40 and set(claimed) == ids


def test_a_decision_on_someone_elses_claim_is_refused(client: TestClient, session: Session) -> None:
    t = make_triaged(session)
    ana, bob = _as(session, "ana"), _as(session, "bob")
    r = client.post(f"/tickets/{t.id}/claim", headers=ana)
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["claimed_by"] == "key:ana"
    r = client.post(f"/tickets/{t.id}/claim", headers=bob)
    assert r.status_code == 409 and "key:ana is working on ticket" in r.json()["detail"]
    claims = session.exec(select(AuditEvent).where(AuditEvent.action == "claim")).all()
    assert [e.actor_name for e in claims] == ["ana"]  # bob's refused claim is not audited
    # the reviewer is who is calling, whatever the body says
    body = {"decision": "approve", "reviewer": "key:ana", "revision": 1}
    r = client.post(f"/tickets/{t.id}/review", json=body, headers=bob)
    assert r.status_code == 409 and "key:ana is working on ticket" in r.json()["detail"]
    assert session.exec(select(Review).where(Review.ticket_id == t.id)).first() is None
    # ana's claim runs out; bob takes it; ana's late decision is refused, bob's goes through
    session.exec(
        update(Ticket)
        .where(col(Ticket.id) == t.id)
        .values(claimed_until=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    assert client.post(f"/tickets/{t.id}/claim", headers=bob).status_code == 200
    r = client.post(f"/tickets/{t.id}/review", json=body, headers=ana)
    assert r.status_code == 409 and "key:bob is working on ticket" in r.json()["detail"]
    r = client.post(f"/tickets/{t.id}/review", json=body, headers=bob)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert r.json()["claimed_by"] is None and r.json()["review"]["reviewer"] == "key:bob"
    r = client.post(f"/tickets/{t.id}/claim", headers=bob)
    assert r.status_code == 409 and "not awaiting a decision" in r.json()["detail"]


def test_a_ticket_triaged_again_while_open_is_a_409(client: TestClient, session: Session) -> None:
    """The existing revision check still holds for a claimed ticket: nothing is recorded."""
    t = make_triaged(session)
    ana = _as(session, "ana")
    assert client.post(f"/tickets/{t.id}/claim", headers=ana).status_code == 200
    session.exec(update(Ticket).where(col(Ticket.id) == t.id).values(revision=2))
    session.commit()
    make_result(session, t.id, revision=2)
    body = {"decision": "approve", "revision": 1}
    r = client.post(f"/tickets/{t.id}/review", json=body, headers=ana)
    assert r.status_code == 409 and "was triaged again" in r.json()["detail"]
    assert session.exec(select(Review).where(Review.ticket_id == t.id)).first() is None


def test_an_expired_free_claim_still_lets_its_reviewer_decide(
    client: TestClient, session: Session
) -> None:
    t = make_triaged(session)
    client.post(f"/tickets/{t.id}/claim", headers=_as(session, "ana"))
    session.exec(
        update(Ticket)
        .where(col(Ticket.id) == t.id)
        .values(claimed_until=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    body = {"decision": "reject", "reviewer": "ana", "revision": 1, "note": "spam"}
    r = client.post(f"/tickets/{t.id}/review", json=body, headers=KEY)
    assert r.status_code == 200 and r.json()["status"] == "rejected"


def test_claim_routes_need_the_review_scope(client: TestClient, session: Session) -> None:
    t = make_triaged(session)
    assert client.post(f"/tickets/{t.id}/claim").status_code == 401
    assert client.post(f"/tickets/{t.id}/claim", headers=INTAKE_KEY).status_code == 403
    assert client.post("/review/next", headers=INTAKE_KEY).status_code == 403
    assert client.get("/review/stats").status_code == 401
    assert client.post("/tickets/0/claim", headers=KEY).status_code == 422
    assert client.post("/tickets/99999/claim", headers=KEY).status_code == 404
    with Session(session.get_bind()) as s:
        assert s.get_one(Ticket, t.id).claimed_by is None  # nothing done on anyone's behalf
