"""Zammad: documented webhook payloads through the real route, and write-backs against a
server that accepts only Zammad's documented API (tests/fixtures/connectors/zammad/)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.registry import Registry
from delivery import send as delivery_send
from delivery.connector_send import deliver_write
from delivery.send import Channels, deliver_reply
from delivery.sweeper import sweep
from review.service import submit_review
from shared import metrics
from shared.config import Settings
from shared.models import (
    DeliveryChannel,
    DeliveryStatus,
    OutboundMessage,
    ReplyExample,
    Review,
    ReviewCreate,
    Ticket,
    TicketMessage,
    TicketStatus,
    utcnow,
)
from tests.connectors.conftest import NAME, serve, triage, writes
from tests.connectors.contract import Call, ContractServer, Route, fixture, fixture_bytes
from tests.helpers import RecordingPublisher

TOKEN = "zammad-api-token"
SECRET = "zammad-hmac-secret"
VENDOR = "zammad"


def _articles(call: Call) -> tuple[int, Any]:
    return 200, call.state.setdefault("articles", {}).get(call.match["id"], [])


def _create_article(call: Call) -> tuple[int, Any]:
    ticket = str(call.body["ticket_id"])
    stored = call.state.setdefault("articles", {}).setdefault(ticket, [])
    article = {"id": 200 + len(stored), "ticket_id": int(ticket), "sender": "Agent", **call.body}
    stored.append(article)
    return 201, article


def _draft(call: Call) -> tuple[int, Any]:
    call.state.setdefault("drafts", {})[call.match["id"]] = call.body
    return 200, {"shared_draft_id": 2}


ROUTES = [
    Route("me", "GET", r"/api/v1/users/me", lambda c: (200, {"id": 3, "login": "ticketflow"})),
    Route(
        "attributes",
        "GET",
        r"/api/v1/object_manager_attributes",
        lambda c: (200, [{"id": 40, "name": "tf_category", "object": "Ticket"}]),
    ),
    Route(
        "tags_add",
        "POST",
        r"/api/v1/tags/add",
        lambda c: (201, True),
        "tags_add.request.schema.json",
    ),
    Route(
        "ticket_update",
        "PUT",
        r"/api/v1/tickets/(?P<id>\d+)",
        lambda c: (200, {"id": int(c.match["id"])}),
        "ticket_update.request.schema.json",
    ),
    Route(
        "shared_draft",
        "PUT",
        r"/api/v1/tickets/(?P<id>\d+)/shared_draft",
        _draft,
        "shared_draft.request.schema.json",
    ),
    Route(
        "article_create",
        "POST",
        r"/api/v1/ticket_articles",
        _create_article,
        "article_create.request.schema.json",
    ),
    Route("articles", "GET", r"/api/v1/ticket_articles/by_ticket/(?P<id>\d+)", _articles),
]


@pytest.fixture
def server() -> Iterator[ContractServer]:
    yield from serve(
        ContractServer(VENDOR, ROUTES, lambda h: h.get("authorization") == f"Token token={TOKEN}")
    )


@pytest.fixture
def connector_config() -> dict[str, Any]:
    return {
        "kind": "zammad",
        "url": "http://placeholder",
        "token": TOKEN,
        "webhook_secret": SECRET,
        "fields": {"category": "tf_category", "priority": "priority_id"},
        "values": {"priority": {"low": 1, "normal": 2, "high": 3, "urgent": 3}},
        "reply_mode": "post",
    }


def post(client: TestClient, body: bytes, secret: str = SECRET, name: str = NAME) -> Any:
    sig = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return client.post(
        f"/integrations/{name}/events",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature": sig},
    )


def with_body(name: str, html: str) -> bytes:
    payload = fixture(VENDOR, name)
    payload["article"]["body"] = html
    return json.dumps(payload).encode()


def ticket_of(session: Session) -> Ticket:
    session.expire_all()
    return session.exec(select(Ticket).where(Ticket.source == f"helpdesk:{NAME}")).one()


def test_new_ticket_is_stored_once_and_queued(
    client: TestClient, session: Session, publisher: RecordingPublisher
) -> None:
    body = fixture_bytes(VENDOR, "webhook_new_ticket.json")
    first = post(client, body)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "created"
    again = post(client, body)  # Zammad retries a webhook it thinks failed
    assert again.json() == {**first.json(), "status": "duplicate", "detail": "already stored"}
    t = ticket_of(session)
    assert (t.external_id, t.customer_email, t.customer_name) == (
        "58",
        "chris@chrispresso.com",
        "Christopher Miller",
    )
    assert t.status == TicketStatus.queued and t.subject == "Order #1234 charged twice"
    assert "charged twice for order #1234" in t.body and "<div>" not in t.body
    assert len(session.exec(select(TicketMessage)).all()) == 1
    assert publisher.wait_for(1) == [(t.id, 1, "tickets")]  # persisted, then published once


def test_bad_signature_is_401_and_stores_nothing(client: TestClient, session: Session) -> None:
    body = fixture_bytes(VENDOR, "webhook_new_ticket.json")
    assert post(client, body, secret="wrong").status_code == 401
    unsigned = client.post(f"/integrations/{NAME}/events", content=body)
    assert unsigned.status_code == 401
    tampered = body.replace(b"charged twice", b"charged once")
    sig = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    answer = client.post(
        f"/integrations/{NAME}/events", content=tampered, headers={"X-Hub-Signature": sig}
    )
    assert answer.status_code == 401
    assert session.exec(select(Ticket)).all() == []
    assert session.exec(select(TicketMessage)).all() == []


def test_unknown_connector_malformed_and_ignored_events(
    client: TestClient, session: Session
) -> None:
    body = fixture_bytes(VENDOR, "webhook_new_ticket.json")
    assert post(client, body, name="nope").status_code == 404
    bad = post(client, b"{not json")
    assert bad.status_code == 422 and "not JSON" in bad.json()["detail"]
    assert post(client, b'{"article": {}}').status_code == 422
    ignored = metrics.CONNECTOR_EVENTS.labels("zammad", "ignored")
    before = ignored._value.get()
    note = post(client, fixture_bytes(VENDOR, "webhook_internal_note.json"))
    assert note.status_code == 202
    assert note.json() == {"status": "ignored", "reason": "internal_note"}
    assert ignored._value.get() == before + 1
    assert session.exec(select(Ticket)).all() == []


def test_customer_follow_up_triages_the_ticket_again(
    client: TestClient, session: Session, db_engine: Engine, publisher: RecordingPublisher
) -> None:
    post(client, fixture_bytes(VENDOR, "webhook_new_ticket.json"))
    t = ticket_of(session)
    assert t.id is not None
    triage(db_engine, t.id)
    answer = post(client, fixture_bytes(VENDOR, "webhook_customer_followup.json"))
    assert answer.json()["status"] == "threaded"
    t = ticket_of(session)
    assert (t.revision, t.status) == (2, TicketStatus.queued)
    assert publisher.wait_for(2) == [(t.id, 1, "tickets"), (t.id, 2, "tickets")]
    assert "Any news?" in t.body and "charged twice for order" in t.body
    assert (
        post(client, fixture_bytes(VENDOR, "webhook_customer_followup.json")).json()["status"]
        == "duplicate"
    )
    assert ticket_of(session).revision == 2


def test_labels_and_shared_draft_are_written_back(
    client: TestClient,
    session: Session,
    db_engine: Engine,
    settings: Settings,
    registry: Registry,
    server: ContractServer,
) -> None:
    post(client, fixture_bytes(VENDOR, "webhook_new_ticket.json"))
    t = ticket_of(session)
    assert t.id is not None
    triage(db_engine, t.id, draft="Hello Chris,\nwe refunded the second payment.")
    rows = writes(session, t.id)
    assert [(w.kind, w.idempotency_key) for w in rows] == [
        ("triage", f"{NAME}:58:triage:rev-1"),
        ("draft", f"{NAME}:58:draft:rev-1"),
    ]
    for row in rows:
        assert row.id is not None
        assert deliver_write(db_engine, settings, registry, row.id) == "sent"
    assert [c.body["item"] for c in server.named("tags_add")] == [
        "tf-category-billing",
        "tf-priority-high",
    ]
    assert [c.body for c in server.named("ticket_update")] == [
        {"tf_category": "billing", "priority_id": 3}
    ]
    draft = server.state["drafts"]["58"]["new_article"]
    assert draft["body"] == "Hello Chris,<br>we refunded the second payment."
    assert all(w.status == DeliveryStatus.sent for w in writes(session, t.id))


@pytest.mark.parametrize("sent", ["same", "edited"])
def test_agent_reply_in_zammad_is_recorded_as_the_review(
    client: TestClient, session: Session, db_engine: Engine, sent: str
) -> None:
    post(client, fixture_bytes(VENDOR, "webhook_new_ticket.json"))
    t = ticket_of(session)
    assert t.id is not None
    triage(db_engine, t.id, draft="Hello Chris, we refunded the second payment.")
    text = (
        "<div>Hello Chris, we refunded the <b>second</b> payment.</div>"
        if sent == "same"
        else "<div>Hi Chris, the refund of 20 EUR is on its way.</div>"
    )
    answer = post(client, with_body("webhook_agent_reply.json", text))
    assert answer.json()["status"] == "reviewed"
    review = session.exec(select(Review).where(Review.ticket_id == t.id)).one()
    assert review.reviewer == "jacob@chrispresso.com (in desk)"
    if sent == "same":
        assert (review.decision, review.edited) == ("approve", False)
        assert review.final_reply == "Hello Chris, we refunded the second payment."
    else:
        assert (review.decision, review.edited) == ("edit", True)
        assert review.final_reply == "Hi Chris, the refund of 20 EUR is on its way."
    example = session.exec(select(ReplyExample).where(ReplyExample.ticket_id == t.id)).one()
    assert example.reply == review.final_reply
    assert session.exec(select(OutboundMessage)).all() == []  # sent in Zammad already
    assert ticket_of(session).status == TicketStatus.approved


def _approve(session: Session, settings: Settings, ticket_id: int) -> OutboundMessage:
    data = ReviewCreate(decision="approve", reviewer="sam", revision=1)  # type: ignore[arg-type]
    session.expire_all()  # the worker triaged it through its own connection
    submit_review(session, ticket_id, data, {}, settings)
    message = session.exec(select(OutboundMessage)).one()
    assert message.channel == DeliveryChannel.helpdesk
    return message


def test_approved_reply_is_posted_as_the_public_reply(
    client: TestClient,
    session: Session,
    db_engine: Engine,
    settings: Settings,
    server: ContractServer,
) -> None:
    post(client, fixture_bytes(VENDOR, "webhook_new_ticket.json"))
    t = ticket_of(session)
    assert t.id is not None
    triage(db_engine, t.id)
    message = _approve(session, settings, t.id)
    channels = Channels.from_settings(settings)
    try:
        assert message.id is not None
        assert deliver_reply(db_engine, settings, channels, message.id) == "sent"
    finally:
        channels.close()
    [call] = server.named("article_create")
    assert call.body["body"] == "We refunded the second payment."
    # Zammad's trigger reports ticketflow's own article back: stored, not a second review.
    echo = post(client, with_body("webhook_agent_reply.json", call.body["body"]))
    assert echo.json()["status"] == "recorded"
    assert len(session.exec(select(Review).where(Review.ticket_id == t.id)).all()) == 1
    assert (call.body["ticket_id"], call.body["to"], call.body["internal"]) == (
        58,
        "chris@chrispresso.com",
        False,
    )
    session.expire_all()
    assert session.get_one(OutboundMessage, message.id).status == DeliveryStatus.sent


def test_reply_mode_draft_leaves_the_reply_in_the_shared_draft(
    client: TestClient,
    session: Session,
    db_engine: Engine,
    settings: Settings,
    server: ContractServer,
) -> None:
    config = settings.connectors[NAME].model_copy(update={"reply_mode": "draft"})
    settings = settings.model_copy(update={"connectors": {NAME: config}})
    post(client, fixture_bytes(VENDOR, "webhook_new_ticket.json"))
    t = ticket_of(session)
    assert t.id is not None
    triage(db_engine, t.id)
    message = _approve(session, settings, t.id)
    channels = Channels.from_settings(settings)
    try:
        assert message.id is not None
        assert deliver_reply(db_engine, settings, channels, message.id) == "sent"
    finally:
        channels.close()
    assert server.named("article_create") == []
    draft = server.state["drafts"]["58"]["new_article"]
    assert (draft["body"], draft["to"]) == (
        "We refunded the second payment.",
        "chris@chrispresso.com",
    )


def test_helpdesk_down_is_retried_then_written_once(
    client: TestClient,
    session: Session,
    db_engine: Engine,
    settings: Settings,
    registry: Registry,
    server: ContractServer,
) -> None:
    post(client, fixture_bytes(VENDOR, "webhook_new_ticket.json"))
    t = ticket_of(session)
    assert t.id is not None
    triage(db_engine, t.id)
    row = writes(session, t.id)[0]
    assert row.id is not None
    server.down = True
    assert deliver_write(db_engine, settings, registry, row.id) == "retry"
    session.expire_all()
    waiting = session.get_one(type(row), row.id)
    assert waiting.status == DeliveryStatus.pending and "503" in (waiting.last_error or "")
    server.down = False
    time.sleep(0.05)  # past the backoff
    assert deliver_write(db_engine, settings, registry, row.id) == "sent"
    assert deliver_write(db_engine, settings, registry, row.id) == "skipped"  # a duplicate message
    assert len(server.named("tags_add")) == 2  # one per tag, written once


def test_crash_between_send_and_mark_does_not_post_twice(
    client: TestClient,
    session: Session,
    db_engine: Engine,
    settings: Settings,
    server: ContractServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post(client, fixture_bytes(VENDOR, "webhook_new_ticket.json"))
    t = ticket_of(session)
    assert t.id is not None
    triage(db_engine, t.id)
    message = _approve(session, settings, t.id)
    assert message.id is not None
    real_settle = delivery_send.settle

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise SystemExit("worker killed after Zammad answered, before the row was marked")

    monkeypatch.setattr(delivery_send, "settle", crash)
    channels = Channels.from_settings(settings)
    try:
        with pytest.raises(SystemExit):
            deliver_reply(db_engine, settings, channels, message.id)
        monkeypatch.setattr(delivery_send, "settle", real_settle)
        with Session(db_engine) as s:  # the lease runs out; the sweeper makes it due again
            row = s.get_one(OutboundMessage, message.id)
            assert row.status == DeliveryStatus.sending
            row.lease_expires_at = utcnow().replace(year=2000)
            s.add(row)
            s.commit()
        assert sweep(db_engine, 60, None, settings.outbound_queue).resumed == 1
        assert deliver_reply(db_engine, settings, channels, message.id) == "sent"
    finally:
        channels.close()
    assert len(server.named("article_create")) == 1  # found on the retry, not posted again
    assert len(server.named("articles")) == 1


def test_a_write_for_a_superseded_revision_is_not_written(
    client: TestClient,
    session: Session,
    db_engine: Engine,
    settings: Settings,
    registry: Registry,
    server: ContractServer,
) -> None:
    post(client, fixture_bytes(VENDOR, "webhook_new_ticket.json"))
    t = ticket_of(session)
    assert t.id is not None
    triage(db_engine, t.id, draft="Old draft.")
    post(client, fixture_bytes(VENDOR, "webhook_customer_followup.json"))  # revision 2
    old_draft = next(w for w in writes(session, t.id) if w.kind == "draft")
    assert old_draft.id is not None
    assert deliver_write(db_engine, settings, registry, old_draft.id) == "failed"
    session.expire_all()
    row = session.get_one(type(old_draft), old_draft.id)
    assert row.last_error == "not written: revision 2 superseded revision 1"
    assert server.named("shared_draft") == []
