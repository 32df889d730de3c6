"""``connectors.rt`` without RT: what the scrip's events become, and what is refused. The
same code against a real RT 5 is in tests/integration/rt/."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import SecretStr

from connectors.base import EventKind, Ignored, InboundEvent, MalformedEvent, SignatureError
from connectors.rt import RtConnector
from shared.connector_config import ConnectorConfig

SECRET = "s3cret"


def _conn(**overrides: object) -> RtConnector:
    values: dict[str, object] = {
        "kind": "rt",
        "url": "http://rt.invalid",
        "token": SecretStr("1-2-abc"),
        "webhook_secret": SecretStr(SECRET),
        "options": {"queue": "Support"},
        **overrides,
    }
    return RtConnector("rt", ConnectorConfig.model_validate(values))


def _event(**fields: object) -> bytes:
    doc = {
        "event": "transaction",
        "ticket": 7,
        "transaction": 70,
        "type": "Correspond",
        "queue": "Support",
        "subject": "Late parcel",
        "content": "Where is it?",
        "creator": "carla@example.com",
        "creator_is_requestor": True,
        "requestor_email": "carla@example.com",
        **fields,
    }
    return json.dumps(doc).encode()


def _signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-ticketflow-signature": f"sha256={digest}"}


def test_kinds_of_correspondence() -> None:
    conn = _conn()
    customer = conn.parse({}, _event())
    agent = conn.parse({}, _event(creator="ana", creator_is_requestor=False, content="Sent."))
    created = conn.parse({}, _event(type="Create", content=""))
    assert isinstance(customer, InboundEvent) and customer.kind is EventKind.customer_message
    assert (customer.ticket_ref, customer.message_ref) == ("7", "70")
    assert isinstance(agent, InboundEvent) and agent.kind is EventKind.agent_reply
    assert agent.author == "ana" and agent.body == "Sent."
    assert isinstance(created, InboundEvent) and created.kind is EventKind.new_ticket
    assert created.body == "Late parcel"  # an empty first message falls back to the subject


def test_quoted_history_is_not_the_reply() -> None:
    quoted = "Sent today.\n\nOn Mon, 1 Dec 2026, Carla <carla@example.com> wrote:\n> Where is it?"
    agent = _conn().parse({}, _event(creator="ana", creator_is_requestor=False, content=quoted))
    assert isinstance(agent, InboundEvent) and agent.body == "Sent today."


def test_ignored_events() -> None:
    conn = _conn(user="tf-bot")
    assert conn.parse({}, _event(type="Comment")) == Ignored("event_type")
    assert conn.parse({}, _event(queue="General")) == Ignored("other_queue")
    assert conn.parse({}, _event(creator="tf-bot", creator_is_requestor=False)) == Ignored(
        "own_write"
    )
    assert conn.parse({}, _event(content="  ")) == Ignored("empty")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"event": "other"}', _event(ticket="7"), _event(transaction=0)],
)
def test_malformed(body: bytes) -> None:
    with pytest.raises(MalformedEvent):
        _conn().parse({}, body)


def test_signature() -> None:
    body = _event()
    _conn().verify(_signed(body), body, {})
    for headers in ({}, _signed(body, "other"), _signed(body + b" ")):
        with pytest.raises(SignatureError):
            _conn().verify(headers, body, {})
    with pytest.raises(SignatureError, match="no webhook_secret"):
        _conn(webhook_secret=SecretStr("")).verify(_signed(body, ""), body, {})


def test_secret_not_in_repr() -> None:
    conn = _conn()
    assert "1-2-abc" not in repr(conn.config) and SECRET not in repr(conn.config)
    assert conn.auth_headers() == {"Authorization": "token 1-2-abc"}
