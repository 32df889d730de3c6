"""Guardrail warnings and reply suggestions at the review API: shown, enforced, learned from."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from shared.models import ReplyExample, Ticket, TicketStatus
from tests.factories import make_result, make_ticket
from tests.producer.conftest import KEY

INVENTED_PHONE = {
    "code": "contact",
    "message": "Contact details found in neither the ticket, the knowledge base nor the "
    "settings: +1 (800) 555-0199.",
    "blocking": True,
    "fixed": False,
}
SIGNED = {"code": "signature", "message": "Signed as 'The Support Team'.", "blocking": False,
          "fixed": True}  # fmt: skip


def _triaged(session: Session, warnings: list[dict[str, Any]], **result: Any) -> int:
    t = make_ticket(
        session,
        customer_name="Peter Okafor",
        subject="Where is my order #48213?",
        body="My parcel was supposed to arrive last Friday. The tracking page has said "
        "'in transit' for 6 days. Can you tell me where it is?",
        status=TicketStatus.triaged,
    )
    make_result(
        session,
        t.id,
        category="shipping_delivery",
        draft_reply="Dear Peter,\n\nPlease call +1 (800) 555-0199.\n\nThe Support Team",
        warnings=warnings,
        **result,
    )
    return int(t.id or 0)


def _review(client: TestClient, tid: int, **payload: object) -> Any:
    return client.post(
        f"/tickets/{tid}/review", json={"reviewer": "sam", "revision": 1, **payload}, headers=KEY
    )


def test_blocking_warning_refuses_unedited_approval_with_reason(
    client: TestClient, session: Session
) -> None:
    tid = _triaged(session, [INVENTED_PHONE, SIGNED])
    shown = client.get(f"/tickets/{tid}", headers=KEY).json()["triage"]["warnings"]
    assert [w["code"] for w in shown] == ["contact", "signature"]
    r = _review(client, tid, decision="approve")
    assert r.status_code == 409
    assert "cannot be approved unedited" in r.json()["detail"]
    assert "555-0199" in r.json()["detail"]
    # The reviewer fixes the reply: an edit is accepted and becomes an example.
    r = _review(client, tid, decision="edit", edited_reply="Dear Peter,\n\nIt ships today.")
    assert r.status_code == 200, r.text


def test_fixed_and_non_blocking_warnings_allow_approval(
    client: TestClient, session: Session
) -> None:
    promise = {"code": "promise", "message": "refund", "blocking": False, "fixed": False}
    tid = _triaged(session, [SIGNED, promise])
    assert _review(client, tid, decision="approve").status_code == 200


def test_review_queue_shows_warnings_and_suggestion(client: TestClient, session: Session) -> None:
    suggestion = {"reply": "Dear Peter, ...", "source": "Based on the reply approved for #3",
                  "ticket_id": 3, "template_id": None, "similarity": 0.91}  # fmt: skip
    tid = _triaged(session, [INVENTED_PHONE], suggestion=suggestion)
    items = client.get("/review", headers=KEY).json()["items"]
    mine = next(t for t in items if t["id"] == tid)
    assert mine["triage"]["suggestion"]["source"] == "Based on the reply approved for #3"
    assert mine["triage"]["warnings"][0]["blocking"] is True
    # The ticket itself and the workspace's ticket view carry the same, source ticket included.
    ticket = client.get(f"/tickets/{tid}", headers=KEY)
    view = client.get(f"/review/tickets/{tid}", headers=KEY)
    assert ticket.status_code == view.status_code == 200, (ticket.text, view.text)
    shown = {"ticket": ticket.json()["triage"], "workspace": view.json()["ticket"]["triage"]}
    for path, triage in shown.items():
        assert triage["suggestion"]["ticket_id"] == 3, path
        assert triage["suggestion"]["reply"] == "Dear Peter, ...", path
        assert [w["code"] for w in triage["warnings"]] == ["contact"], path


def test_approved_and_edited_replies_become_examples_rejected_do_not(
    client: TestClient, session: Session
) -> None:
    approved = _triaged(session, [SIGNED])
    edited = _triaged(session, [])
    rejected = _triaged(session, [])
    assert _review(client, approved, decision="approve").status_code == 200
    assert (
        _review(
            client, edited, decision="edit", edited_reply="Hola Peter", corrected_language="es"
        ).status_code
        == 200
    )
    assert _review(client, rejected, decision="reject").status_code == 200
    rows = {e.ticket_id: e for e in session.exec(select(ReplyExample)).all()}
    assert set(rows) == {approved, edited}
    assert rows[edited].reply == "Hola Peter" and rows[edited].language == "es"
    assert rows[approved].ticket_text.startswith("Where is my order #48213?\nMy parcel")
    assert rows[approved].category == "shipping_delivery"
    assert rows[approved].customer_name == "Peter Okafor"
    assert session.get(Ticket, rejected) is not None
