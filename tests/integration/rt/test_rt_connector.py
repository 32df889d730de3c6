"""``connectors.rt`` against the real RT 5: the scrip's real posts verify and parse into the
right events, and every write-back reads back over REST2 (and is not repeated on a retry)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.base import (
    Draft,
    EventKind,
    Ignored,
    InboundEvent,
    Reply,
    ReplyMode,
    SignatureError,
    Target,
    TriageLabels,
)
from connectors.rt import RtConnector
from shared.connector_config import ConnectorConfig
from shared.errors import PermanentError
from tests.integration.rt.conftest import WEBHOOK_SECRET, Relay
from tests.integration.rt.rt_server import QUEUE, TAGS_FIELD, RTServer
from tests.integration.rt.test_rt_setup import _attachments, _mail
from ticketflow.processes import child_env, ticketflow_cmd

LABELS = TriageLabels(category="billing", priority="urgent", sentiment="negative", language="en")


def _connector(rt: RTServer, **overrides: object) -> RtConnector:
    values: dict[str, object] = {
        "kind": "rt",
        "url": rt.url,
        "token": SecretStr(rt.token),
        "user": "ticketflow",
        "webhook_secret": SecretStr(WEBHOOK_SECRET),
        "options": {"queue": QUEUE},
        **overrides,
    }
    return RtConnector("rt", ConnectorConfig.model_validate(values))


@pytest.fixture
def conn(rt: RTServer) -> Iterator[RtConnector]:
    c = _connector(rt)
    yield c
    c.close()


def _new_ticket(rt: RTServer, relay: Relay, conn: RtConnector) -> InboundEvent:
    before = len(relay.deliveries)
    rt.mail_in(_mail("Charged twice", "I was charged twice for order 77."))
    relay.wait(lambda d: len(d) == before + 1)
    event = _parse(conn, relay, -1)
    assert isinstance(event, InboundEvent)
    return event


def _parse(conn: RtConnector, relay: Relay, index: int) -> InboundEvent | Ignored:
    d = relay.deliveries[index]
    conn.verify(d.headers, d.body, {})
    return conn.parse(d.headers, d.body)


def _target(event: InboundEvent, key: str, retry: bool = False) -> Target:
    return Target(event.ticket_ref, 1, key, retry)


def test_scrip_events_parse(rt: RTServer, fresh_relay: Relay, conn: RtConnector) -> None:
    created = _new_ticket(rt, fresh_relay, conn)
    assert created.kind is EventKind.new_ticket
    assert created.customer_email == "carla@example.com"
    assert "order 77" in created.body and created.subject == "Charged twice"
    ticket = created.ticket_ref

    with rt.agent() as agent:
        agent.post(
            f"/ticket/{ticket}/correspond",
            json={"Content": "We refunded order 77.", "ContentType": "text/plain"},
        ).raise_for_status()
    rt.mail_in(_mail(f"Re: [ticketflow-test #{ticket}] Charged twice", "And order 78?"))
    # ticketflow's own public reply comes back through the scrip and is ignored.
    conn.write_reply(_target(created, "k-own"), Reply("Done for 78 too."), ReplyMode.post)
    fresh_relay.wait(lambda d: len(d) == 4)
    agent_reply, customer, own = (_parse(conn, fresh_relay, i) for i in (1, 2, 3))
    assert isinstance(agent_reply, InboundEvent) and agent_reply.kind is EventKind.agent_reply
    assert agent_reply.author == "agent" and "refunded order 77" in agent_reply.body
    assert isinstance(customer, InboundEvent) and customer.kind is EventKind.customer_message
    assert customer.ticket_ref == ticket and "order 78?" in customer.body
    assert own == Ignored("own_write")
    # Every event names its own transaction: the idempotency key of the inbound route.
    refs = {e.message_ref for e in (created, agent_reply, customer)}
    assert len(refs) == 3


def test_bad_signature_and_other_queue(rt: RTServer, fresh_relay: Relay, conn: RtConnector) -> None:
    created = _new_ticket(rt, fresh_relay, conn)
    d = fresh_relay.deliveries[-1]
    with pytest.raises(SignatureError):
        conn.verify(d.headers, d.body.replace(b"order 77", b"order 99"), {})
    with pytest.raises(SignatureError):
        conn.verify({}, d.body, {})
    other = _connector(rt, options={"queue": "General"})
    try:
        assert other.parse(d.headers, d.body) == Ignored("other_queue")
    finally:
        other.close()
    assert created.kind is EventKind.new_ticket


def test_write_triage_sets_fields(rt: RTServer, fresh_relay: Relay, conn: RtConnector) -> None:
    event = _new_ticket(rt, fresh_relay, conn)
    conn.write_triage(_target(event, "k-triage"), LABELS)
    with rt.client() as c:
        ticket = c.get(f"/ticket/{event.ticket_ref}").json()
    values = {f["name"]: f["values"] for f in ticket["CustomFields"]}
    assert values["Ticketflow Category"] == ["billing"]
    assert values["Ticketflow Priority"] == ["urgent"]
    assert values["Ticketflow Sentiment"] == ["negative"]
    assert values["Ticketflow Language"] == ["en"]

    # RT's own Priority, through a value mapping; a field RT lacks is a clear permanent error.
    mapped = _connector(rt, fields={"priority": "Priority"}, values={"priority": {"urgent": 90}})
    missing = _connector(rt, fields={"category": "No Such Field"})
    try:
        mapped.write_triage(_target(event, "k-prio"), LABELS)
        with pytest.raises(PermanentError, match="No Such Field"):
            missing.write_triage(_target(event, "k-missing"), LABELS)
    finally:
        mapped.close()
        missing.close()
    with rt.client() as c:
        assert c.get(f"/ticket/{event.ticket_ref}").json()["Priority"] in ("90", "High")


def test_tags_into_a_multi_value_field(rt: RTServer, fresh_relay: Relay, conn: RtConnector) -> None:
    event = _new_ticket(rt, fresh_relay, conn)
    options = {"queue": QUEUE, "tags_field": TAGS_FIELD}
    tagged = _connector(rt, tags=["category", "sentiment"], options=options)
    try:
        tagged.write_triage(_target(event, "k-tags"), LABELS)
        tagged.write_triage(_target(event, "k-tags", retry=True), LABELS)  # idempotent
    finally:
        tagged.close()
    with rt.client() as c:
        fields = c.get(f"/ticket/{event.ticket_ref}").json()["CustomFields"]
    values = {f["name"]: sorted(f["values"]) for f in fields}
    assert values[TAGS_FIELD] == ["tf-category-billing", "tf-sentiment-negative"]


def test_write_draft_is_an_internal_comment_once(
    rt: RTServer, fresh_relay: Relay, conn: RtConnector
) -> None:
    event = _new_ticket(rt, fresh_relay, conn)
    draft = Draft("Hello Carla, we are refunding order 77.", ["mentions a refund"], "http://tf/r/1")
    first = conn.write_draft(_target(event, "rt:1:draft:rev-1"), draft)
    again = conn.write_draft(_target(event, "rt:1:draft:rev-1", retry=True), draft)
    assert first.remote_id and not first.already_done
    assert again.already_done and again.remote_id == first.remote_id
    with rt.client() as c:
        notes = [a for a in _attachments(c, int(event.ticket_ref)) if "refunding" in a["Content"]]
        history = c.get(f"/ticket/{event.ticket_ref}/history", params={"fields": "Type"}).json()
    assert len(notes) == 1 and notes[0]["TransactionId"] == first.remote_id
    assert "ticketflow suggestion" in notes[0]["Content"]
    assert "[ticketflow:rt:1:draft:rev-1]" in notes[0]["Content"]
    assert [t["Type"] for t in history["items"]].count("Comment") == 1
    assert "refunding order 77" not in rt.outgoing_mail()  # comments are not mailed


def test_write_reply_post_and_draft(rt: RTServer, fresh_relay: Relay, conn: RtConnector) -> None:
    event = _new_ticket(rt, fresh_relay, conn)
    reply = Reply("Hello Carla, order 77 is refunded.", reviewer="rita")
    posted = conn.write_reply(_target(event, "k-reply"), reply, ReplyMode.post)
    again = conn.write_reply(_target(event, "k-reply", retry=True), reply, ReplyMode.post)
    assert posted.remote_id and again.already_done and again.remote_id == posted.remote_id
    left = conn.write_reply(_target(event, "k-left"), Reply("Left for you."), ReplyMode.draft)
    with rt.client() as c:
        types = [
            t["Type"]
            for t in c.get(
                f"/ticket/{event.ticket_ref}/history", params={"fields": "Type", "per_page": 100}
            ).json()["items"]
        ]
        parts = _attachments(c, int(event.ticket_ref))
    assert types.count("Correspond") == 1 and types.count("Comment") == 1
    assert any(
        p["TransactionId"] == left.remote_id and "Left for you." in p["Content"] for p in parts
    )
    assert rt.mails_with("order 77 is refunded") == 1  # the customer got it once
    assert "Left for you." not in rt.outgoing_mail()


def test_check(rt: RTServer, conn: RtConnector) -> None:
    assert all(item.ok for item in conn.check()), conn.check()
    names = {item.name for item in conn.check()}
    assert {"credentials", f"queue {QUEUE}", "custom field Ticketflow Category"} <= names
    wrong = _connector(rt, token=SecretStr("1-33-0000"), fields={"category": "Nope"})
    unknown_queue = _connector(rt, options={"queue": "Nope"}, fields={"category": "Nope"})
    try:
        assert [i.ok for i in wrong.check()] == [False]
        items = {i.name: i.ok for i in unknown_queue.check()}
    finally:
        wrong.close()
        unknown_queue.close()
    assert items == {"credentials": True, "queue Nope": False, "custom field Nope": False}


def test_integrations_check_cli(rt: RTServer, tmp_path: Path) -> None:
    """``ticketflow integrations check rt``: the admin's last setup step (docs/connectors/rt.md)."""
    config = {
        "kind": "rt",
        "url": rt.url,
        "token": rt.token,
        "webhook_secret": WEBHOOK_SECRET,
        "options": {"queue": QUEUE},
    }

    def check(**overrides: object) -> subprocess.CompletedProcess[str]:
        env = child_env(
            {
                "TICKETFLOW_CONNECTORS": json.dumps({"rt": {**config, **overrides}}),
                "TICKETFLOW_DATA_DIR": str(tmp_path),
            }
        )
        return subprocess.run(
            ticketflow_cmd("integrations", "check", "rt"),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    good = check()
    assert good.returncode == 0, good.stdout + good.stderr
    assert "custom field Ticketflow Language" in good.stdout
    assert "all checks passed" in good.stdout and rt.token not in good.stdout + good.stderr
    bad = check(fields={"category": "Ticketflow Category", "priority": "Urgency"})
    assert bad.returncode == 1
    assert (
        "FAIL custom field Urgency" in bad.stdout and "ok   custom field Ticketflow" in bad.stdout
    )
