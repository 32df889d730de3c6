"""Input the databases cannot hold gets a 422 naming the field, on SQLite and PostgreSQL.

Each case here was a 500 before: PostgreSQL refuses NUL characters, UTF-8 cannot encode a lone
surrogate, and ids, offsets and dates have ranges.
"""

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, select

from shared.config import Settings
from shared.models import Review, Ticket
from tests.producer.conftest import KEY
from tests.review.test_api_review import _review, _triaged

TICKET = {"subject": "Login broken", "body": "I cannot log in since yesterday."}


def _field_errors(r) -> list[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    return [".".join(str(p) for p in e["loc"]) for e in r.json()["detail"]]


@pytest.mark.parametrize("field", ["body", "subject", "customer_name", "external_id"])
def test_nul_character_is_rejected_by_name(
    client: TestClient, session: Session, field: str
) -> None:
    r = client.post("/tickets", json={**TICKET, field: "abc\x00def"}, headers=KEY)
    assert _field_errors(r) == [f"body.{field}"]
    assert "NUL" in r.text
    assert session.exec(select(Ticket)).all() == []


def test_lone_surrogate_is_a_422_not_a_500(client: TestClient) -> None:
    raw = '{"body": "broken \\ud800 text"}'  # valid JSON, not valid Unicode
    r = client.post("/tickets", content=raw, headers={**KEY, "Content-Type": "application/json"})
    assert _field_errors(r) == ["body.body"]
    assert "unicode" in r.text


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_external_id_is_no_id_and_never_merges_tickets(
    client: TestClient, session: Session, blank: str
) -> None:
    a = client.post("/tickets", json={**TICKET, "external_id": blank}, headers=KEY)
    b = client.post(
        "/tickets", json={**TICKET, "body": "Another customer", "external_id": blank}, headers=KEY
    )
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]
    assert {t.external_id for t in session.exec(select(Ticket)).all()} == {None}


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:00-05:00"])
def test_received_at_outside_the_calendar_is_rejected(client: TestClient, when: str) -> None:
    r = client.post("/tickets", json={**TICKET, "received_at": when}, headers=KEY)
    assert _field_errors(r) == ["body.received_at"]


@pytest.mark.parametrize(
    "path", ["/tickets/2147483648", "/tickets/0", "/tickets?offset=9223372036854775808"]
)
def test_ids_and_offsets_beyond_the_database_range(client: TestClient, path: str) -> None:
    assert client.get(path, headers=KEY).status_code == 422


def test_category_filter_with_nul(client: TestClient) -> None:
    assert _field_errors(client.get("/tickets?category=a%00b", headers=KEY)) == ["query.category"]


def test_body_limit_follows_the_setting(
    client: TestClient, settings: Settings, session: Session
) -> None:
    settings.max_body_chars = 1000
    r = client.post("/tickets", json={**TICKET, "body": "x" * 1001}, headers=KEY)
    assert _field_errors(r) == ["body.body"]
    assert "TICKETFLOW_MAX_BODY_CHARS" in r.text
    settings.max_body_chars = 100_000
    assert client.post("/tickets", json={**TICKET, "body": "y" * 60_000}, headers=KEY).is_success


def test_non_ascii_api_key_is_a_401(client: TestClient) -> None:
    r = client.post("/tickets", json=TICKET, headers={"X-API-Key": "clé-ü".encode()})  # type: ignore[dict-item]
    assert r.status_code == 401


def test_review_edit_text_with_approve_is_refused(client: TestClient, db_engine: DbEngine) -> None:
    tid = _triaged(client, db_engine, "I was charged twice", "e1")
    r = _review(client, tid, decision="approve", edited_reply="My better reply")
    assert r.status_code == 422 and "only used with decision 'edit'" in r.text
    assert (
        client.get(f"/tickets/{tid}", headers=KEY).json()["status"] == "triaged"
    )  # nothing decided


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"corrected_language": "klingon!!"}, "body.corrected_language"),
        ({"note": "a\x00b"}, "body.note"),
    ],
)
def test_review_fields_are_validated(
    client: TestClient, db_engine: DbEngine, payload: dict[str, str], field: str
) -> None:
    tid = _triaged(client, db_engine, "I was charged twice", "e2")
    assert _field_errors(_review(client, tid, decision="approve", **payload)) == [field]


def _race(client: TestClient, tid: int) -> list[int]:
    """Approve and reject the same ticket at the same moment; the status codes."""
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def decide(decision: str) -> None:
        barrier.wait()
        codes.append(_review(client, tid, decision=decision).status_code)  # type: ignore[attr-defined]

    threads = [threading.Thread(target=decide, args=(d,)) for d in ("approve", "reject")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_two_concurrent_reviews_record_one_decision(
    client: TestClient, db_engine: DbEngine, session: Session
) -> None:
    """SQLite ignores FOR UPDATE: the decision must still be taken once."""
    for n in range(5):
        tid = _triaged(client, db_engine, f"I was charged twice ({n})", f"race-{n}")
        assert sorted(_race(client, tid)) == [200, 409]
        reviews = session.exec(select(Review).where(Review.ticket_id == tid)).all()
        assert len(reviews) == 1
        ticket = session.get(Ticket, tid)
        assert ticket is not None
        session.refresh(ticket)
        expected = "approved" if reviews[0].decision == "approve" else "rejected"
        assert ticket.status == expected
