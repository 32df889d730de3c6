"""The workspace API on SQLite and PostgreSQL: filters and search, counts, keyset paging through
every ticket, the ticket view, the stored prompt, stats and bulk rejection."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from shared.models import ApiKey, AuditEvent, KbPassage, TicketMessage, utcnow
from tests.factories import make_api_key, make_result, make_ticket, make_triaged
from tests.producer.conftest import KEY
from worker.engine.fake_engine import FakeEngine
from worker.pipeline.triage import process_ticket, run_batch


def _as(session: Session, name: str) -> dict[str, str]:
    """A reviewer's own key (read and review scopes); it records reviews as ``key:NAME``."""
    raw = f"tf_{name:0<12}_{name}-review-key"
    if session.exec(select(ApiKey).where(ApiKey.name == name)).first() is None:
        make_api_key(session, raw, ["read", "review"], name)
    return {"X-API-Key": raw}


def _ids(client: TestClient, **params: object) -> list[int]:
    r = client.get("/review", params={"limit": 200, **params}, headers=KEY)
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["items"]]


def test_filters_and_search(client: TestClient, session: Session) -> None:
    old = utcnow() - timedelta(hours=50)
    a = make_triaged(
        session,
        subject="Refund 50% please",
        result={"category": "refund", "category_confidence": 0.9, "language": "de"},
        source="email",
        created_at=old,
    )
    b = make_triaged(
        session,
        body="my card_number was charged",
        result={"priority": "urgent", "sentiment": "negative", "category_confidence": 0.3},
        customer_email="bo@example.com",
    )
    c = make_triaged(
        session, body="hello", result={"needs_human_triage": True, "category_confidence": 0.5}
    )
    make_ticket(session, subject="Refund queued, not triaged")  # never in the queue
    assert set(_ids(client)) == {a.id, b.id, c.id}
    assert _ids(client, category="refund") == [a.id]
    assert _ids(client, priority="urgent") == [b.id]
    assert _ids(client, language="de") == [a.id]
    assert _ids(client, sentiment="negative") == [b.id]
    assert _ids(client, needs_triage="true") == [c.id]
    assert _ids(client, source="email") == [a.id]
    assert set(_ids(client, min_confidence=0.4, max_confidence=0.6)) == {c.id}
    assert _ids(client, min_age_h=24) == [a.id]
    assert set(_ids(client, max_age_h=24)) == {b.id, c.id}
    assert _ids(client, q="REFUND") == [a.id]  # subject, any case
    assert _ids(client, q="card_number") == [b.id]  # body; "_" is not a wildcard
    assert _ids(client, q="50%") == [a.id]
    assert _ids(client, q="5%") == []  # "%" is taken literally
    assert _ids(client, q="refund please") == [a.id]  # every word must occur
    assert _ids(client, category="refund", priority="urgent") == []
    bad = client.get("/review", params={"min_confidence": 2}, headers=KEY)
    assert bad.status_code == 422


def test_counts_per_filter_value(client: TestClient, session: Session) -> None:
    make_triaged(session, result={"category": "refund", "priority": "high"})
    make_triaged(session, result={"category": "refund"})
    make_triaged(session, result={"category": "billing", "needs_human_triage": True})
    r = client.get("/review/facets", headers=KEY)
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["category"] == {"refund": 2, "billing": 1}
    assert f["needs_triage"] == {"false": 2, "true": 1}
    # a chosen category narrows the other counts but not its own
    f = client.get("/review/facets", params={"category": "refund"}, headers=KEY).json()
    assert f["category"] == {"refund": 2, "billing": 1}
    assert f["priority"] == {"high": 1, "normal": 1}


def test_keyset_paging_reaches_every_ticket(client: TestClient, session: Session) -> None:
    prios = ["low", "urgent", "normal", "high"]
    made = {
        make_triaged(session, external_id=f"p{i}", result={"priority": prios[i % 4]}).id
        for i in range(230)
    }
    seen: list[int] = []
    after = None
    while True:
        params: dict[str, object] = {"limit": 50}
        if after is not None:
            params["after_id"] = after
        page = client.get("/review", params=params, headers=KEY).json()["items"]
        if not page:
            break
        seen += [t["id"] for t in page]
        after = page[-1]["id"]
        # a decision meanwhile does not make the reader skip or repeat anything
        if len(seen) == 100:
            body = {"decision": "reject", "reviewer": "x", "revision": 1, "note": "n"}
            client.post(f"/tickets/{seen[0]}/review", json=body, headers=KEY)
    assert len(seen) == 230 and set(seen) == made


def test_ticket_view(client: TestClient, session: Session, db_engine: Engine) -> None:
    earlier = make_triaged(session, subject="Old order question", customer_email="ana@example.com")
    t = make_ticket(session, subject="Where is my parcel", customer_email="ana@example.com")
    session.add(
        TicketMessage(
            ticket_id=t.id or 0,
            sender="ana@example.com",
            subject="Where is my parcel",
            body="First message",
            body_original="First message",
            attachments=[{"filename": "label.pdf", "content_type": "application/pdf", "size": 9}],
        )
    )
    session.add(
        TicketMessage(
            ticket_id=t.id or 0,
            sender="ana@example.com",
            subject="Re: Where is my parcel",
            body="Second message",
            body_original="Second message",
        )
    )
    session.add(
        KbPassage(
            doc_id="shipping",
            chunk=0,
            title="Shipping",
            url="https://h/s",
            text="We ship in 2 days.",
        )
    )
    session.commit()
    make_result(
        session,
        t.id,
        alternatives={"category": [{"label": "delivery", "confidence": 0.2}]},
        citations=[
            {
                "n": 1,
                "doc_id": "shipping",
                "chunk": 0,
                "title": "Shipping",
                "url": "https://h/s",
                "cited": True,
            }
        ],
    )
    r = client.get(f"/review/tickets/{t.id}", headers=KEY)
    assert r.status_code == 200, r.text
    d = r.json()
    assert [m["body"] for m in d["messages"]] == ["First message", "Second message"]
    assert d["messages"][0]["attachments"][0]["filename"] == "label.pdf"
    assert [e["id"] for e in d["earlier"]] == [earlier.id]
    cat = next(lab for lab in d["labels"] if lab["field"] == "category")
    assert cat["value"] == "other" and cat["runner_ups"][0]["label"] == "delivery"
    assert d["passages"] == [
        {
            "n": 1,
            "title": "Shipping",
            "url": "https://h/s",
            "text": "We ship in 2 days.",
            "cited": True,
        }
    ]
    assert d["has_prompt"] is False
    assert client.get(f"/tickets/{t.id}/prompt", headers=KEY).status_code == 404
    assert client.get("/review/tickets/999999", headers=KEY).status_code == 404


def test_the_prompt_the_model_saw_is_kept(client: TestClient, db_engine: Engine) -> None:
    tid = client.post(
        "/tickets",
        json={"body": "Call me at +1 415 555 0100 about my refund", "subject": "Refund"},
        headers=KEY,
    ).json()["id"]
    engine = FakeEngine()
    seen: list[list[dict[str, str]]] = []
    real_draft = engine.draft

    def draft(chats):  # type: ignore[no-untyped-def]
        seen.extend(chats)
        return real_draft(chats)

    engine.draft = draft  # type: ignore[method-assign]
    process_ticket(
        tid,
        1,
        db=db_engine,
        engine=engine,
        submit=lambda j: run_batch(engine, [j])[0],
        worker="t",
        threshold=0.5,
    )
    assert client.get(f"/review/tickets/{tid}", headers=KEY).json()["has_prompt"] is True
    r = client.get(f"/tickets/{tid}/prompt", headers=KEY)
    assert r.status_code == 200, r.text
    assert r.json() == seen[0]  # exactly the chat handed to the draft model
    text = " ".join(m["content"] for m in r.json())
    assert "refund" in text and "555 0100" not in text  # placeholders, not the number


def test_stats(client: TestClient, session: Session) -> None:
    a, _ = make_triaged(session), make_triaged(session)
    body = {"decision": "reject", "revision": 1, "note": "spam"}
    r = client.post(f"/tickets/{a.id}/review", json=body, headers=_as(session, "ana"))
    assert r.status_code == 200, r.text
    s = client.get("/review/stats", headers=_as(session, "ana")).json()
    assert s["awaiting"] == 1 and s["reviewed_today"] == 1 and s["mine_today"] == 1
    assert s["median_decision_s"] is not None and s["median_decision_s"] >= 0
    assert client.get("/review/stats", headers=_as(session, "bob")).json()["mine_today"] == 0


def test_bulk_reject(client: TestClient, session: Session) -> None:
    a, b, c = (make_triaged(session, external_id=f"s{i}") for i in range(3))
    assert client.post(f"/tickets/{c.id}/claim", headers=_as(session, "bob")).status_code == 200
    items = [{"id": t.id, "revision": 1} for t in (a, b, c)] + [{"id": 99999, "revision": 1}]
    r = client.post(
        "/review/bulk-reject", json={"tickets": items, "note": "spam"}, headers=_as(session, "ana")
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rejected"] == [a.id, b.id]
    assert [f["id"] for f in out["failed"]] == [c.id, 99999]
    assert "key:bob is working" in out["failed"][0]["reason"]
    review = client.get(f"/tickets/{a.id}", headers=KEY).json()["review"]
    assert review["decision"] == "reject" and review["note"] == "spam"
    assert review["reviewer"] == "key:ana"
    # the audit trail has each decision that was stored, and only those; bob's claim too
    events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    assert [(e.actor_name, e.action, e.ticket_id) for e in events] == [
        ("bob", "claim", c.id),
        ("ana", "decide", a.id),
        ("ana", "decide", b.id),
    ]
    r = client.post(
        "/review/bulk-reject", json={"tickets": items, "note": ""}, headers=_as(session, "ana")
    )
    assert r.status_code == 422
