"""The real RT 5 that the connector is tested against does what the connector relies on: the
documented initialdata's scrip posts a signed event for a new ticket and for correspondence
(not for comments); REST2, with the ticketflow user's auth token, sets the custom fields,
comments and corresponds; everything reads back over REST2; the customer is mailed the reply.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from tests.integration.rt.conftest import WEBHOOK_SECRET, Relay
from tests.integration.rt.rt_server import QUEUE, RTServer


def _mail(subject: str, body: str, sender: str = "Carla Customer <carla@example.com>") -> bytes:
    return (
        f"From: {sender}\nTo: support@ticketflow.test\nSubject: {subject}\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    ).encode()


def _events(relay: Relay) -> list[dict[str, object]]:
    return [json.loads(d.body) for d in relay.deliveries]


def _attachments(c: httpx.Client, ticket: int) -> list[dict[str, str]]:
    answer = c.get(
        f"/ticket/{ticket}/attachments",
        params={"fields": "Subject,Content,TransactionId", "per_page": 100},
    )
    answer.raise_for_status()
    items: list[dict[str, str]] = answer.json()["items"]
    return items


def test_scrip_and_rest2_round_trip(rt: RTServer, fresh_relay: Relay) -> None:
    rt.mail_in(_mail("Charged twice", "I was charged twice for order 1234."))
    fresh_relay.wait(lambda d: len(d) == 1)
    created = _events(fresh_relay)[0]
    delivery = fresh_relay.deliveries[0]
    expected = hmac.new(WEBHOOK_SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["x-ticketflow-signature"] == f"sha256={expected}"
    assert created["type"] == "Create" and created["queue"] == QUEUE
    assert created["subject"] == "Charged twice"
    assert "charged twice for order 1234" in str(created["content"])
    assert created["requestor_email"] == "carla@example.com"
    assert created["creator_is_requestor"] is True
    ticket = int(str(created["ticket"]))

    with rt.client() as c:
        put = c.put(
            f"/ticket/{ticket}",
            json={"CustomFields": {"Ticketflow Category": "billing", "Ticketflow Language": "en"}},
        )
        assert put.status_code == 200, put.text
        note = {
            "Subject": "ticketflow suggestion",
            "Content": "Draft [ticketflow:t1]",
            "ContentType": "text/plain",
        }
        assert c.post(f"/ticket/{ticket}/comment", json=note).status_code == 201
        values = {f["name"]: f["values"] for f in c.get(f"/ticket/{ticket}").json()["CustomFields"]}
        assert values["Ticketflow Category"] == ["billing"]
        assert values["Ticketflow Language"] == ["en"]
        assert any("[ticketflow:t1]" in a["Content"] for a in _attachments(c, ticket))

        # An agent answers in RT: the scrip reports it, with the agent as creator.
        with rt.agent() as agent:
            sent = agent.post(
                f"/ticket/{ticket}/correspond",
                json={"Content": "Refunded, Ana.", "ContentType": "text/plain"},
            )
            assert sent.status_code == 201, sent.text
        fresh_relay.wait(lambda d: len(d) == 2)
        reply = _events(fresh_relay)[1]
        assert reply["type"] == "Correspond" and reply["creator"] == "agent"
        assert reply["creator_is_requestor"] is False
        assert "Refunded, Ana." in str(reply["content"])

        # The customer writes again by email: a Correspond by the requestor.
        rt.mail_in(_mail(f"Re: [ticketflow-test #{ticket}] Charged twice", "Thanks! Also 1235?"))
        fresh_relay.wait(lambda d: len(d) == 3)
        again = _events(fresh_relay)[2]
        assert again["ticket"] == ticket and again["creator_is_requestor"] is True
        history = c.get(f"/ticket/{ticket}/history", params={"fields": "Type", "per_page": 100})
        types = [t["Type"] for t in history.json()["items"]]
    assert types.count("Comment") == 1 and types.count("Correspond") == 2
    assert "Refunded, Ana." in rt.outgoing_mail()
    # The comment (ticketflow's draft) never reached the scrip nor the customer.
    assert len(fresh_relay.deliveries) == 3
    assert "[ticketflow:t1]" not in rt.outgoing_mail()


def test_token_is_required(rt: RTServer) -> None:
    with rt.client(token="1-99-not-a-real-token") as c:
        assert c.get("/ticket/1").status_code == 401
