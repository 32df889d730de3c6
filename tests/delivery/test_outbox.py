"""The outbox is written in the review's transaction: approve and edit write one reply, a
rejection none; an approval can be undone during its hold time and not after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from delivery.outbox import delete_for_ticket
from delivery.outboxes import REPLIES
from dispatch.relay import claim
from review.service import submit_review, undo_approval
from shared.config import Settings
from shared.errors import ConflictError
from shared.models import (
    OutboundMessage,
    Review,
    ReviewCreate,
    TicketStatus,
    WebhookDelivery,
    utcnow,
)
from tests.delivery.conftest import approved
from tests.factories import make_result, make_ticket
from tests.producer.conftest import KEY


def _outbound(session: Session) -> list[OutboundMessage]:
    return list(session.exec(select(OutboundMessage)).all())


def test_approve_writes_one_reply_with_its_key(session: Session, dsettings: Settings) -> None:
    t = approved(session, dsettings)
    (m,) = _outbound(session)
    assert (m.ticket_id, m.revision, m.status, m.attempts) == (t.id, 1, "pending", 0)
    assert m.idempotency_key == f"ticket-{t.id}-rev-1"
    assert m.channel == "email" and m.recipient == "ana@example.com"
    assert m.subject == f"Re: Card charged twice [TF-{t.id}]"
    assert m.body == "Your refund is on its way."
    assert m.remote_id.startswith(f"<tf.{t.id}.1.") and m.remote_id.endswith("@shop.example>")


def test_edit_wins_and_reject_writes_nothing(session: Session, dsettings: Settings) -> None:
    approved(session, dsettings, "edit", external_id="e")
    approved(session, dsettings, "reject", external_id="r")
    (m,) = _outbound(session)
    assert m.body == "Edited: refund sent."


def test_api_ticket_without_address_goes_to_webhooks(session: Session, dsettings: Settings) -> None:
    approved(session, dsettings, customer_email=None, source="api")
    (m,) = _outbound(session)
    assert m.channel == "webhook" and m.remote_id == m.idempotency_key


def test_review_and_reply_commit_together(session: Session, dsettings: Settings) -> None:
    """A reply that cannot be stored takes the decision with it: no approval without reply."""
    t = make_ticket(session, status=TicketStatus.triaged)
    make_result(session, t.id)
    assert t.id is not None
    session.add(
        OutboundMessage(  # the key the approval would use, taken already
            ticket_id=t.id,
            channel="email",
            body="x",
            remote_id="x",
            idempotency_key=f"ticket-{t.id}-rev-1",
        )
    )
    session.commit()
    with pytest.raises(IntegrityError):
        submit_review(
            session,
            t.id,
            ReviewCreate(decision="approve", reviewer="s", revision=1),
            {},
            dsettings,
        )
    session.rollback()
    assert session.exec(select(Review)).all() == []
    session.refresh(t)
    assert t.status == "triaged"


def test_undo_inside_the_hold_time(session: Session, dsettings: Settings) -> None:
    held = dsettings.model_copy(update={"delivery_hold_s": 60.0})
    t = approved(session, held)
    assert t.id is not None
    assert claim(session.get_bind(), outbox=REPLIES) == []  # on hold: not published
    back = undo_approval(session, t.id)
    assert back.status == "triaged"
    assert _outbound(session) == [] and session.exec(select(Review)).all() == []
    # The reviewer decides again, and this time rejects: nothing is written.
    submit_review(
        session, t.id, ReviewCreate(decision="reject", reviewer="s", revision=1), {}, held
    )
    assert _outbound(session) == []


def test_no_undo_once_sending_started(session: Session, dsettings: Settings) -> None:
    t = approved(session, dsettings)
    assert t.id is not None
    (c,) = claim(session.get_bind(), outbox=REPLIES)  # hold 0: due at once
    assert c.row_id == _outbound(session)[0].id
    with pytest.raises(ConflictError, match="no longer be undone"):
        undo_approval(session, t.id)
    session.refresh(t)
    assert t.status == "approved" and len(_outbound(session)) == 1


def test_hold_time_passed_cannot_undo(session: Session, dsettings: Settings) -> None:
    t = approved(session, dsettings.model_copy(update={"delivery_hold_s": 60.0}))
    session.exec(update(OutboundMessage).values(send_after=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert t.id is not None
    with pytest.raises(ConflictError):
        undo_approval(session, t.id)


def test_forget_deletes_by_ticket(session: Session, dsettings: Settings) -> None:
    hooks = dsettings.model_copy(update={"webhook_urls": "http://127.0.0.1:9/h"})
    t = approved(session, hooks)
    other = approved(session, hooks, external_id="o")
    assert t.id is not None
    assert delete_for_ticket(session, t.id) == 2  # the reply and its ticket.reviewed event
    session.commit()
    assert [m.ticket_id for m in _outbound(session)] == [other.id]
    rows = session.exec(select(WebhookDelivery).where(col(WebhookDelivery.ticket_id) == t.id))
    assert rows.all() == []


def test_api_shows_the_reply_and_undo(client: TestClient, db_engine: Engine) -> None:
    from tests.review.test_api_review import _review, _triaged

    tid = _triaged(client, db_engine, "I was charged twice", "api-1")
    body = _review(client, tid, decision="edit", edited_reply="Refunded.").json()
    d = body["delivery"]
    assert d["status"] == "pending" and d["body"] == "Refunded." and d["channel"] == "webhook"
    assert d["send_after"] > d["created_at"]  # the default hold time
    r = client.post(f"/tickets/{tid}/review/undo", headers=KEY)
    assert r.status_code == 200 and r.json()["status"] == "triaged"
    assert r.json()["delivery"] is None
    r = client.post(f"/tickets/{tid}/review/undo", headers=KEY)
    assert r.status_code == 409 and "not approved" in r.json()["detail"]
    assert client.post("/tickets/999999/review/undo", headers=KEY).status_code == 404


def test_review_queue_previews_what_approving_sends(client: TestClient, db_engine: Engine) -> None:
    from tests.review.test_api_review import _triaged

    tid = _triaged(client, db_engine, "Where is my parcel?", "prev-1")
    (item,) = client.get("/review", headers=KEY).json()["items"]
    assert item["id"] == tid and item["delivery"] is None
    assert item["reply_preview"] == {
        "channel": "webhook",  # an API ticket without an address
        "recipient": None,
        "subject": f"Re: Your request [TF-{tid}]",
    }
