"""The whole loop with a real RT 5: a customer mails RT -> RT's scrip posts the signed event ->
ticketflow's route stores it -> a real ``ticketflow worker`` (tiny models) triages it ->
``ticketflow deliver`` writes the custom fields and the draft comment into RT (read back over
REST2) -> a reviewer approves in ticketflow -> ``ticketflow deliver`` posts the reply as RT
correspondence, mailed once to the customer. Then the other way round: the customer writes
again (re-triage) and an agent answers in RT, which ticketflow records as the review."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlmodel import select

from shared.models import OutboundMessage, Review, Ticket, TriageResult
from tests.conftest import REDIS_TEST_URL
from tests.integration.conftest import Stack
from tests.integration.rt.conftest import WEBHOOK_SECRET, Relay
from tests.integration.rt.rt_server import QUEUE, RTServer
from tests.integration.rt.test_rt_setup import _attachments, _mail
from ticketflow.processes import Child, spawn, ticketflow_cmd, wait_until

# PostgreSQL only, as in production: the route, worker and deliver processes share it.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("db_url", ["postgresql"], indirect=True),
]
OUT_QUEUE = f"it-rt-out-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def stack_settings(rt: RTServer) -> dict[str, object]:
    connector = {
        "kind": "rt",
        "url": rt.url,
        "token": rt.token,
        "user": "ticketflow",
        "webhook_secret": WEBHOOK_SECRET,
        "reply_mode": "post",
        "options": {"queue": QUEUE},
    }
    return {
        "connectors": {"rt": connector},
        "outbound_queue": OUT_QUEUE,
        "delivery_hold_s": "0",
        "relay_poll_s": "0.2",
        "support_address": "support@ticketflow.test",
    }


@pytest.fixture
def wired(stack: Stack, fresh_relay: Relay) -> Iterator[Stack]:
    """RT's scrip reaches this test's API (raw body and signature unchanged)."""

    def forward(path: str, headers: dict[str, str], body: bytes) -> int:
        sent = {k: v for k, v in headers.items() if k in ("content-type", "x-ticketflow-signature")}
        return stack.client.post(path, content=body, headers=sent).status_code

    fresh_relay.forward = forward
    yield stack
    redis.Redis.from_url(REDIS_TEST_URL).delete(OUT_QUEUE)


@pytest.fixture
def deliver(wired: Stack) -> Iterator[Child]:
    child = spawn("deliver", ticketflow_cmd("deliver"), wired.env, wired.log_dir)
    yield child
    child.stop()


def _rt_ticket(rt: RTServer, ticket: str) -> dict[str, list[str]]:
    with rt.client() as c:
        fields = c.get(f"/ticket/{ticket}").json()["CustomFields"]
    return {f["name"]: f["values"] for f in fields}


def _history(rt: RTServer, ticket: str) -> list[tuple[str, str, str]]:
    """(type, creator, text) of each message on the RT ticket."""
    with rt.client() as c:
        items = c.get(
            f"/ticket/{ticket}/history", params={"fields": "Type,Creator", "per_page": 100}
        ).json()["items"]
        texts = {a["TransactionId"]: a["Content"] for a in _attachments(c, int(ticket))}
    return [(t["Type"], t["Creator"]["id"], texts.get(str(t["id"]), "")) for t in items]


def _ticket(stack: Stack) -> Ticket:
    with stack.session() as s:
        [ticket] = s.exec(select(Ticket)).all()
        return ticket


def test_ticket_from_rt_comes_back_triaged_and_answered(
    rt: RTServer, fresh_relay: Relay, wired: Stack, deliver: Child
) -> None:
    stack = wired
    stack.start_worker()
    rt.mail_in(_mail("Charged twice", "My card was charged twice for order 4411. Refund one?"))
    fresh_relay.wait(lambda d: len(d) == 1)
    assert fresh_relay.deliveries[0].status == 202
    stack.wait_for(lambda ts: len(ts) == 1 and ts[0].status == "triaged")
    ticket = _ticket(stack)
    rt_id = str(ticket.external_id)
    assert ticket.source == "helpdesk:rt" and ticket.customer_email == "carla@example.com"
    [result] = stack.results()

    # Labels into the custom fields, the draft as a comment: both read back over REST2.
    def written_back() -> bool:
        kinds = [h[0] for h in _history(rt, rt_id)]
        return "Comment" in kinds and bool(_rt_ticket(rt, rt_id)["Ticketflow Category"])

    wait_until(written_back, 60, "labels and draft in RT", deliver, interval=0.5)
    fields = _rt_ticket(rt, rt_id)
    assert fields["Ticketflow Category"] == [result.category]
    assert fields["Ticketflow Priority"] == [result.priority]
    assert fields["Ticketflow Sentiment"] == [result.sentiment]
    assert fields["Ticketflow Language"] == [result.language]
    [note] = [h for h in _history(rt, rt_id) if h[0] == "Comment"]
    assert note[1] == "ticketflow" and "ticketflow suggestion" in note[2]
    assert result.draft_reply.strip()[:40] in note[2]
    assert rt.mails_with("ticketflow suggestion") == 0  # the customer never sees the draft

    # A reviewer edits and approves in ticketflow; deliver posts it as RT correspondence.
    reply = "Hello Carla, we refunded the second charge for order 4411."
    answer = stack.client.post(
        f"/tickets/{ticket.id}/review",
        json={"decision": "edit", "revision": 1, "edited_reply": reply},
    )
    assert answer.status_code == 200, answer.text

    def replied() -> bool:
        return any(h[0] == "Correspond" and reply in h[2] for h in _history(rt, rt_id))

    wait_until(replied, 60, "the approved reply in RT", deliver, interval=0.5)
    assert [h[1] for h in _history(rt, rt_id) if h[0] == "Correspond"] == ["ticketflow"]
    assert rt.mails_with("refunded the second charge") == 1  # RT mailed the customer once
    # The scrip reports that correspondence too; ticketflow knows it as its own.
    fresh_relay.wait(lambda d: len(d) == 2)
    assert fresh_relay.deliveries[1].status == 202
    with stack.session() as s:
        [row] = s.exec(select(OutboundMessage)).all()
        assert row.status == "sent" and row.channel == "helpdesk"
        assert s.get_one(Ticket, ticket.id).revision == 1  # not re-triaged by its own reply


def test_customer_writes_again_and_agent_answers_in_rt(
    rt: RTServer, fresh_relay: Relay, wired: Stack, deliver: Child
) -> None:
    stack = wired
    stack.start_worker()
    rt.mail_in(_mail("Wrong size", "The shoes I got are size 40, I ordered 42."))
    stack.wait_for(lambda ts: len(ts) == 1 and ts[0].status == "triaged")
    rt_id = str(_ticket(stack).external_id)

    rt.mail_in(_mail(f"Re: [ticketflow-test #{rt_id}] Wrong size", "Can you send 42 today?"))
    stack.wait_for(lambda ts: ts[0].revision == 2 and ts[0].status == "triaged")
    assert "send 42 today" in _ticket(stack).body  # the conversation is what was re-triaged

    edited = "Hi, a pair in size 42 leaves our warehouse today; keep the 40s."
    with rt.agent() as agent:
        sent = agent.post(
            f"/ticket/{rt_id}/correspond", json={"Content": edited, "ContentType": "text/plain"}
        )
        assert sent.status_code == 201, sent.text
    fresh_relay.wait(lambda d: len(d) == 3)
    assert [d.status for d in fresh_relay.deliveries] == [202, 202, 202]
    with stack.session() as s:
        ticket = s.exec(select(Ticket)).one()
        [review] = s.exec(select(Review)).all()
        results = s.exec(select(TriageResult)).all()
        outbox = s.exec(select(OutboundMessage)).all()
    assert ticket.status == "approved"
    assert len(results) == 2
    latest = max(results, key=lambda r: r.revision)
    assert latest.revision == 2 and review.triage_result_id == latest.id
    assert review.decision == "edit" and review.edited  # the agent did not send the draft
    assert review.final_reply == edited and review.reviewer.startswith("agent")
    assert outbox == []  # sent in RT already: nothing for ticketflow to deliver

    # A redelivered scrip post (RT retried, or an admin re-ran it) changes nothing.
    last = fresh_relay.deliveries[-1]
    again = stack.client.post(
        "/integrations/rt/events",
        content=last.body,
        headers={"x-ticketflow-signature": last.headers["x-ticketflow-signature"]},
    )
    assert again.status_code == 202
    with stack.session() as s:
        assert len(s.exec(select(Review)).all()) == 1


def test_forged_event_is_refused(rt: RTServer, wired: Stack) -> None:
    body = b'{"event": "transaction", "ticket": 1, "transaction": 1, "type": "Create"}'
    bad = wired.client.post(
        "/integrations/rt/events", content=body, headers={"x-ticketflow-signature": "sha256=0"}
    )
    assert bad.status_code == 401
    with wired.session() as s:
        assert s.exec(select(Ticket)).all() == []
