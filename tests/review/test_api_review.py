"""Review queue and decisions through the API, on SQLite and PostgreSQL."""

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, select

from shared.models import Review
from tests.factories import PASSWORD, make_user
from tests.helpers import log_in
from tests.producer.conftest import KEY
from worker.engine.fake_engine import FakeEngine
from worker.pipeline.triage import process_ticket, run_batch


def _triaged(client: TestClient, db: DbEngine, body: str, ext: str) -> int:
    tid = client.post("/tickets", json={"body": body, "external_id": ext}, headers=KEY).json()["id"]
    engine = FakeEngine()
    process_ticket(
        tid,
        1,
        db=db,
        engine=engine,
        submit=lambda j: run_batch(engine, [j])[0],
        worker="t",
        threshold=0.5,
    )
    return int(tid)


def _review(client: TestClient, tid: int, **payload: object) -> object:
    """Review the draft as a reviewer who read revision 1 (unless ``revision`` says otherwise)."""
    body = {"reviewer": "sam", "revision": 1, **payload}
    return client.post(f"/tickets/{tid}/review", json=body, headers=KEY)


def test_approve_keeps_the_draft_as_final_reply(client: TestClient, db_engine: DbEngine) -> None:
    tid = _triaged(client, db_engine, "I was charged twice", "a")
    draft = client.get(f"/tickets/{tid}", headers=KEY).json()["triage"]["draft_reply"]
    r = _review(client, tid, decision="approve")
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["status"] == "approved" and t["review"]["final_reply"] == draft
    assert not t["review"]["edited"]


def test_edit_stores_edited_reply_and_corrected_labels(
    client: TestClient, db_engine: DbEngine, session: Session
) -> None:
    tid = _triaged(client, db_engine, "I was charged twice", "b")
    r = _review(
        client,
        tid,
        decision="edit",
        edited_reply="Refunded, sorry!",
        corrected_category="refund_cancellation",
        corrected_priority="high",
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    review = session.exec(select(Review).where(Review.ticket_id == tid)).one()
    assert review.final_reply == "Refunded, sorry!" and review.edited
    assert review.corrected_category == "refund_cancellation"
    assert review.corrected_priority == "high"


def test_reject_sends_nothing(client: TestClient, db_engine: DbEngine) -> None:
    tid = _triaged(client, db_engine, "spam spam", "c")
    t = _review(client, tid, decision="reject", note="spam").json()
    assert t["status"] == "rejected" and t["review"]["final_reply"] is None


def test_invalid_reviews(client: TestClient, db_engine: DbEngine) -> None:
    tid = _triaged(client, db_engine, "I was charged twice", "d")
    r = _review(client, tid, decision="edit")
    assert r.status_code == 422 and "edited_reply" in r.json()["detail"]
    r = _review(client, tid, decision="approve", corrected_category="nonsense")
    assert r.status_code == 422 and "not one of" in r.json()["detail"]
    assert _review(client, tid, decision="maybe").status_code == 422
    r = client.post(f"/tickets/{tid}/review", json={"decision": "approve", "reviewer": "x"})
    assert r.status_code == 401
    assert _review(client, 987654, decision="approve").status_code == 404


def test_review_transitions(client: TestClient, db_engine: DbEngine) -> None:
    queued = client.post("/tickets", json={"body": "not triaged yet"}, headers=KEY).json()["id"]
    r = _review(client, queued, decision="approve")
    assert r.status_code == 409 and "no draft" in r.json()["detail"]
    tid = _triaged(client, db_engine, "I was charged twice", "e")
    assert _review(client, tid, decision="approve").status_code == 200
    r = _review(client, tid, decision="reject")
    assert r.status_code == 409 and "already reviewed" in r.json()["detail"]


def test_review_queue_is_most_urgent_first(client: TestClient, db_engine: DbEngine) -> None:
    calm = _triaged(client, db_engine, "a question about my invoice", "f")
    angry = _triaged(client, db_engine, "This is unacceptable! Refund now!", "g")
    done = _triaged(client, db_engine, "login help", "h")
    _review(client, done, decision="approve")
    page = client.get("/review", headers=KEY).json()
    ids = [t["id"] for t in page["items"]]
    assert ids == [angry, calm] and page["total"] == 2
    assert page["items"][0]["triage"]["priority"] == "high"


def test_review_page_and_taxonomy_are_served(client: TestClient, session: Session) -> None:
    assert client.get("/ui", follow_redirects=False).headers["location"] == "/login?next=/ui"
    make_user(session, "rita")
    csrf = log_in(client, "rita", PASSWORD)
    page = client.get("/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # No inline script: the page loads its modules from /static, which drive the same
    # endpoints a script would use, and carries the session's CSRF token for them.
    assert f'<meta name="csrf-token" content="{csrf}">' in page.text
    assert '<script type="module" src="/static/app.js">' in page.text
    assert "<script>" not in page.text and " onclick=" not in page.text
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "/tickets/${d.ticket.id}/review" in js.text
    assert client.get("/static/../ui.py").status_code == 404
    tax = client.get("/taxonomy", headers=KEY).json()
    assert "billing" in tax["categories"] and "urgent" in tax["priorities"]
    assert set(tax) == {"categories", "priorities", "sentiments"}


def test_corrections_follow_the_trained_label_set(
    client: TestClient, db_engine: DbEngine, settings
) -> None:
    """Once a trained version (e.g. Banking77 intents) is published, its labels are the ones
    reviewers may choose; the API reads them from the artifact's meta.json, without torch."""
    import json

    vdir = settings.heads_dir / "v1"
    vdir.mkdir(parents=True)
    (vdir / "meta.json").write_text(
        json.dumps({"labels": {"category": ["card_arrival", "pin_blocked"]}})
    )
    (settings.heads_dir / "LATEST").write_text("v1")
    tax = client.get("/taxonomy", headers=KEY).json()
    assert tax["categories"] == ["card_arrival", "pin_blocked"]
    assert "urgent" in tax["priorities"]  # untrained fields keep the taxonomy
    tid = _triaged(client, db_engine, "where is my card", "i")
    r = _review(client, tid, decision="approve", corrected_category="billing")
    assert r.status_code == 422 and "card_arrival" in r.json()["detail"]
    r = _review(client, tid, decision="approve", corrected_category="card_arrival")
    assert r.status_code == 200, r.text


def test_a_draft_replaced_after_the_reviewer_read_it_is_not_approved(
    client: TestClient, db_engine: DbEngine, session: Session
) -> None:
    """Approving binds to the revision read: a re-triage in between must not send a new draft
    that nobody has seen."""
    from shared.models import Ticket, TicketStatus
    from tests.factories import make_result

    tid = _triaged(client, db_engine, "I was charged twice", "stale")
    ticket = session.get(Ticket, tid)
    assert ticket is not None
    ticket.revision, ticket.status = 2, TicketStatus.triaged  # a reply arrived, triaged again
    session.add(ticket)
    session.commit()
    make_result(session, tid, revision=2, draft_reply="We have closed your account.")
    r = _review(client, tid, decision="approve", revision=1)
    assert r.status_code == 409 and "revision 2" in r.json()["detail"]
    assert session.exec(select(Review)).all() == []
    r = _review(client, tid, decision="approve", revision=2)
    assert (
        r.status_code == 200 and r.json()["review"]["final_reply"] == "We have closed your account."
    )


def test_a_review_must_say_which_revision_it_read(client: TestClient, db_engine: DbEngine) -> None:
    tid = _triaged(client, db_engine, "I was charged twice", "norev")
    body = {"decision": "approve", "reviewer": "sam"}
    r = client.post(f"/tickets/{tid}/review", json=body, headers=KEY)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "revision"]


def test_review_pages_cover_tickets_created_in_the_same_instant(
    client: TestClient, session: Session
) -> None:
    from datetime import UTC, datetime

    from shared.models import TicketStatus
    from tests.factories import make_result, make_ticket

    same = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for _ in range(8):
        t = make_ticket(session, status=TicketStatus.triaged, created_at=same)
        make_result(session, t.id, priority="normal")
        ids.append(t.id)
    pages = [
        client.get(f"/review?limit=1&offset={i}", headers=KEY).json()["items"] for i in range(8)
    ]
    assert [p[0]["id"] for p in pages] == sorted(ids)  # each once, in a stable order


def test_after_id_pages_do_not_skip_tickets_reviewed_meanwhile(
    client: TestClient, session: Session
) -> None:
    """With offsets, each approval would shift an unseen ticket past the reader."""
    from datetime import UTC, datetime, timedelta

    from shared.models import TicketStatus
    from tests.factories import make_result, make_ticket

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    specs = [  # (priority, needs human triage, minutes after t0): queue order below
        ("urgent", False, 5),
        ("high", True, 9),
        ("high", False, 1),
        ("high", False, 1),  # same instant: id breaks the tie
        ("normal", True, 0),
        ("low", False, 3),
    ]
    ids = []
    for priority, needs, minutes in specs:
        created = t0 + timedelta(minutes=minutes)
        t = make_ticket(session, status=TicketStatus.triaged, created_at=created)
        make_result(session, t.id, priority=priority, needs_human_triage=needs)
        ids.append(t.id)
    seen: list[int] = []
    page = client.get("/review?limit=2", headers=KEY).json()
    while page["items"]:
        batch = [t["id"] for t in page["items"]]
        seen += batch
        # One of each page is reviewed before the next page is asked for, the other is not.
        assert _review(client, batch[0], decision="approve").status_code == 200
        page = client.get(f"/review?limit=2&after_id={batch[-1]}", headers=KEY).json()
    assert seen == ids


def test_after_id_must_name_a_triaged_ticket(client: TestClient) -> None:
    r = client.get("/review?after_id=999999", headers=KEY)
    assert r.status_code == 404 and "start again without after_id" in r.json()["detail"]
    assert client.get("/review?after_id=0", headers=KEY).status_code == 422


def test_decisions_and_the_pipeline_are_counted_in_metrics(
    client: TestClient, db_engine: DbEngine
) -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    claims = value("ticketflow_stage_seconds_count", stage="claim")
    triaged = value("ticketflow_triage_outcomes_total", outcome="triaged")
    batches = value("ticketflow_batch_size_count")
    rejected = value("ticketflow_review_decisions_total", decision="reject")
    waits = value("ticketflow_review_time_to_decision_seconds_count", decision="reject")
    tid = _triaged(client, db_engine, "spam spam", "metrics")
    assert value("ticketflow_stage_seconds_count", stage="claim") == claims + 1
    assert value("ticketflow_triage_outcomes_total", outcome="triaged") == triaged + 1
    assert value("ticketflow_batch_size_count") == batches + 1
    assert _review(client, tid, decision="reject").status_code == 200  # type: ignore[attr-defined]
    assert value("ticketflow_review_decisions_total", decision="reject") == rejected + 1
    assert value("ticketflow_review_time_to_decision_seconds_count", decision="reject") == waits + 1
    # The draft was stored moments ago: the wait lands in the first bucket (1 s).
    first = value("ticketflow_review_time_to_decision_seconds_bucket", decision="reject", le="1.0")
    assert first >= 1
