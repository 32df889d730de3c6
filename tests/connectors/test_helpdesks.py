"""Zendesk, Freshdesk and Chatwoot: their documented webhook payloads through the real route
(valid and invalid signatures), and every write-back against a server that accepts only their
documented API (``vendors.py``, fixtures under tests/fixtures/connectors/<vendor>/)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from time import time as real_time
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
from shared.config import Settings
from shared.models import (
    ConnectorWrite,
    DeliveryStatus,
    OutboundMessage,
    Review,
    ReviewCreate,
    Ticket,
    TicketMessage,
    TicketStatus,
    utcnow,
)
from tests.connectors.conftest import NAME, serve, triage, writes
from tests.connectors.contract import ContractServer
from tests.connectors.vendors import SECRET, TOKEN, VENDORS, Vendor

DRAFT = "Hello Ana,\nwe refunded the second payment."


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> Vendor:
    return VENDORS[request.param]


@pytest.fixture
def server(vendor: Vendor) -> Iterator[ContractServer]:
    yield from serve(vendor.server())


@pytest.fixture
def connector_config(vendor: Vendor) -> dict[str, Any]:
    return {
        **vendor.config,
        "url": "http://placeholder",
        "token": TOKEN,
        "webhook_secret": SECRET,
        "reply_mode": "post",
    }


def post(client: TestClient, vendor: Vendor, body: bytes, **headers: str) -> Any:
    return client.post(
        f"/integrations/{NAME}/events", content=body, headers={**vendor.sign(body), **headers}
    )


def ticket_of(session: Session) -> Ticket:
    session.expire_all()
    return session.exec(select(Ticket).where(Ticket.source == f"helpdesk:{NAME}")).one()


def opened(client: TestClient, vendor: Vendor, server: ContractServer, session: Session) -> Ticket:
    answer = post(client, vendor, vendor.new_ticket(server))
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "created"
    return ticket_of(session)


def test_new_ticket_from_the_documented_payload(
    client: TestClient, vendor: Vendor, server: ContractServer, session: Session
) -> None:
    t = opened(client, vendor, server, session)
    assert (t.external_id, t.customer_email, t.customer_name) == (
        vendor.ticket_ref,
        *vendor.customer,
    )
    assert "charged twice for order #1234" in t.body and t.status == TicketStatus.queued
    again = post(client, vendor, vendor.new_ticket(server))
    assert again.json()["status"] == "duplicate"
    assert len(session.exec(select(Ticket)).all()) == 1


def test_invalid_signature_or_secret_is_401_and_nothing_is_stored(
    client: TestClient, vendor: Vendor, server: ContractServer, session: Session
) -> None:
    body = vendor.new_ticket(server)
    headers = vendor.sign(body)
    forged = {k: ("sha256=00" if "signature" in k.lower() else v) for k, v in headers.items()}
    if vendor.kind == "freshdesk":
        forged["X-Ticketflow-Secret"] = "guess"
    assert (
        client.post(f"/integrations/{NAME}/events", content=body, headers=forged).status_code == 401
    )
    unsigned = client.post(
        f"/integrations/{NAME}/events", content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    if vendor.kind != "freshdesk":  # a valid signature does not cover another body
        other = body.replace(b"charged", b"chargeD") if b"charged" in body else body + b" "
        answer = client.post(f"/integrations/{NAME}/events", content=other, headers=headers)
        assert answer.status_code == 401
    assert session.exec(select(Ticket)).all() == []
    assert server.calls == []  # nothing fetched for an unauthenticated request


def test_malformed_and_ignored_events(
    client: TestClient, vendor: Vendor, server: ContractServer, session: Session
) -> None:
    bad = post(client, vendor, b"[1, 2]")
    assert bad.status_code == 422 and bad.json()["detail"] == "the body is not a JSON object"
    opened(client, vendor, server, session)
    note = post(client, vendor, vendor.internal(server))
    assert note.status_code == 202
    assert note.json() == {"status": "ignored", "reason": "internal_note"}


def test_customer_follow_up_retriages(
    client: TestClient, vendor: Vendor, server: ContractServer, session: Session, db_engine: Engine
) -> None:
    t = opened(client, vendor, server, session)
    assert t.id is not None
    triage(db_engine, t.id)
    answer = post(client, vendor, vendor.followup(server))
    assert answer.json()["status"] == "threaded", answer.text
    t = ticket_of(session)
    assert t.revision == 2 and "Any news?" in t.body
    assert (
        len(session.exec(select(TicketMessage).where(TicketMessage.ticket_id == t.id)).all()) == 2
    )


def test_labels_and_draft_are_written_back(
    client: TestClient,
    vendor: Vendor,
    server: ContractServer,
    session: Session,
    db_engine: Engine,
    settings: Settings,
    registry: Registry,
) -> None:
    t = opened(client, vendor, server, session)
    assert t.id is not None
    triage(db_engine, t.id, draft=DRAFT)
    for row in writes(session, t.id):
        assert row.id is not None
        assert deliver_write(db_engine, settings, registry, row.id) == "sent"
    assert vendor.triage_written(server) == vendor.expected_triage
    [note] = vendor.notes(server)
    assert note.startswith("ticketflow suggestion (not sent to the customer):")
    assert DRAFT.split("\n")[1] in note and "promises a refund" in note
    assert f"[ticketflow:{NAME}:{vendor.ticket_ref}:draft:rev-1]" in note
    assert vendor.replies(server) == []  # a suggestion is never sent to the customer


def _approved(session: Session, settings: Settings, ticket_id: int) -> OutboundMessage:
    session.expire_all()
    data = ReviewCreate(decision="edit", reviewer="sam", revision=1, edited_reply=DRAFT + " Sam")  # type: ignore[arg-type]
    submit_review(session, ticket_id, data, {}, settings)
    return session.exec(select(OutboundMessage)).one()


def test_approved_reply_is_posted_once_even_after_a_crash(
    client: TestClient,
    vendor: Vendor,
    server: ContractServer,
    session: Session,
    db_engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = opened(client, vendor, server, session)
    assert t.id is not None
    triage(db_engine, t.id, draft=DRAFT)
    message = _approved(session, settings, t.id)
    assert message.id is not None
    real_settle = delivery_send.settle

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise SystemExit("killed after the helpdesk answered, before the row was marked")

    monkeypatch.setattr(delivery_send, "settle", crash)
    channels = Channels.from_settings(settings)
    try:
        with pytest.raises(SystemExit):
            deliver_reply(db_engine, settings, channels, message.id)
        monkeypatch.setattr(delivery_send, "settle", real_settle)
        with Session(db_engine) as s:
            row = s.get_one(OutboundMessage, message.id)
            row.lease_expires_at = utcnow().replace(year=2000)
            s.add(row)
            s.commit()
        assert sweep(db_engine, 60, None, settings.outbound_queue).resumed == 1
        assert deliver_reply(db_engine, settings, channels, message.id) == "sent"
    finally:
        channels.close()
    replies = vendor.replies(server)
    assert len(replies) == 1 and "Sam" in replies[0]
    assert len(server.named(vendor.reply_route)) == 1


def test_helpdesk_down_then_up_writes_the_draft_once(
    client: TestClient,
    vendor: Vendor,
    server: ContractServer,
    session: Session,
    db_engine: Engine,
    settings: Settings,
    registry: Registry,
) -> None:
    t = opened(client, vendor, server, session)
    assert t.id is not None
    triage(db_engine, t.id, draft=DRAFT)
    draft = next(w for w in writes(session, t.id) if w.kind == "draft")
    assert draft.id is not None
    server.down = True
    assert deliver_write(db_engine, settings, registry, draft.id) == "retry"
    server.down = False
    time.sleep(0.05)
    assert deliver_write(db_engine, settings, registry, draft.id) == "sent"
    session.expire_all()
    assert session.get_one(ConnectorWrite, draft.id).status == DeliveryStatus.sent
    assert len(vendor.notes(server)) == 1


def test_agent_reply_in_the_helpdesk_is_the_review(
    client: TestClient, vendor: Vendor, server: ContractServer, session: Session, db_engine: Engine
) -> None:
    t = opened(client, vendor, server, session)
    assert t.id is not None
    triage(db_engine, t.id, draft=DRAFT)
    answer = post(client, vendor, vendor.agent_reply(server, "Hi Ana, refund sent today."))
    assert answer.json()["status"] == "reviewed", answer.text
    review = session.exec(select(Review).where(Review.ticket_id == t.id)).one()
    assert (review.decision, review.final_reply) == ("edit", "Hi Ana, refund sent today.")
    assert session.exec(select(OutboundMessage)).all() == []


def test_check_passes_on_a_good_setup_and_names_what_is_wrong(
    vendor: Vendor, server: ContractServer, registry: Registry, settings: Settings
) -> None:
    items = registry.get(NAME).check()
    assert all(i.ok for i in items), items
    assert {i.name for i in items} >= {"credentials", "webhook secret"}
    config = settings.connectors[NAME].model_copy(
        update={"token": type(settings.connectors[NAME].token)("bad")}
    )
    bad = Registry(settings.model_copy(update={"connectors": {NAME: config}}))
    try:
        [item] = bad.get(NAME).check()
    finally:
        bad.close()
    assert (item.name, item.ok) == ("credentials", False) and "401" in item.detail
    server.violations.clear()  # the refused request was the point of this test


@pytest.mark.parametrize("vendor", ["zendesk"], indirect=True)
def test_an_odd_answer_from_the_helpdesk_api_is_502_not_500(
    client: TestClient, vendor: Vendor, server: ContractServer, session: Session
) -> None:
    server.state["comments"] = ["not a comment object"]
    answer = post(client, vendor, vendor.new_ticket(server))
    assert answer.status_code == 502
    assert "unexpected shape" in answer.json()["detail"]
    assert session.exec(select(Ticket)).all() == []
    server.down = True  # the helpdesk's API is down: 503, so the helpdesk retries the webhook
    assert post(client, vendor, vendor.new_ticket(server)).status_code == 503


@pytest.mark.parametrize("vendor", ["chatwoot", "zendesk"], indirect=True)
def test_a_replayed_signature_is_refused(
    client: TestClient, vendor: Vendor, server: ContractServer, session: Session, monkeypatch: Any
) -> None:
    body = vendor.new_ticket(server)
    monkeypatch.setattr(time, "time", lambda: real_time() - 3600)  # signed an hour ago
    old = vendor.sign(body)
    monkeypatch.setattr(time, "time", real_time)
    answer = client.post(f"/integrations/{NAME}/events", content=body, headers=old)
    assert answer.status_code == 401 and "too old" in answer.json()["detail"]
    assert session.exec(select(Ticket)).all() == []
