"""A forged sender pulls no history and joins no thread; the reviewer sees the flag."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session

from producer.email.ingest import EmailIngester, Outcome
from producer.email.parse import parse_email
from producer.email.trust import SenderTrust, aligned
from shared.models import Ticket, TicketPublic
from tests.helpers import RecordingPublisher
from tests.producer.conftest import KEY
from tests.producer.test_email_ingest import make_mail
from worker.pipeline.ticket_state import claim

MX = "mx.support.example"
TRUST = SenderTrust.of([MX])


def ar(result: str, authserv: str = MX) -> str:
    return f"{authserv}; {result}"


def verified(*auth_results: str, sender: str = "Ana <ana@shop.example>") -> bool:
    mail = make_mail(From=sender)
    headers = "".join(f"Authentication-Results: {h}\n" for h in auth_results).encode()
    return TRUST.verified(parse_email(headers + mail))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([ar("dkim=pass header.d=shop.example header.s=s1; spf=fail")], True),
        ([ar("spf=pass smtp.mailfrom=bounce@mail.shop.example")], True),  # relaxed alignment
        ([ar("dmarc=pass (p=reject) header.from=shop.example")], True),
        (
            [ar("dkim=pass header.d=attacker.example; spf=pass smtp.mailfrom=attacker.example")],
            False,
        ),
        ([ar("dkim=fail header.d=shop.example; spf=softfail smtp.mailfrom=shop.example")], False),
        ([ar("dkim=pass header.d=shop.example", authserv="mx.attacker.example")], False),
        ([ar("dkim=pass header.d=example")], False),  # a bare TLD-ish domain never aligns
        ([], False),
        # The receiving server's own header is on top; a forged one below it does not count.
        ([ar("dkim=none; spf=fail"), ar("dkim=pass header.d=shop.example")], False),
    ],
)
def test_authentication_results(headers: list[str], expected: bool) -> None:
    assert verified(*headers) is expected


def test_alignment_and_operator_trust() -> None:
    assert aligned("shop.example", "a@eu.shop.example") and not aligned(
        "op.example", "a@shop.example"
    )
    assert SenderTrust(trust_all=True).verified(parse_email(make_mail()))
    assert not SenderTrust().verified(parse_email(make_mail()))


def _ingester(session: Session, trust: SenderTrust = TRUST) -> EmailIngester:
    return EmailIngester(session, RecordingPublisher(), "tickets", trust=trust)


def _signed(body: str, sender: str = "Ana <ana@shop.example>", **headers: str) -> bytes:
    return (
        b"Authentication-Results: "
        + ar("dkim=pass header.d=shop.example").encode()
        + (b"\n" + make_mail(body, From=sender, **headers))
    )


def test_forged_sender_pulls_no_history(session: Session, db_engine: DbEngine) -> None:
    ing = _ingester(session)
    first = ing.ingest(_signed("Order 1234 to 5 Elm St", Message_ID="<a1@shop.example>"), "t:1")
    assert first.outcome is Outcome.ingested
    genuine = ing.ingest(_signed("Where is it?", Message_ID="<a2@shop.example>"), "t:2")
    forged = ing.ingest(
        make_mail("What was my address?", From="Ana <ana@shop.example>", Message_ID="<f@x>"), "t:3"
    )
    rows = {r.ticket_id: session.get(Ticket, r.ticket_id) for r in (first, genuine, forged)}
    assert rows[genuine.ticket_id].sender_verified is True  # type: ignore[union-attr]
    assert rows[forged.ticket_id].sender_verified is False  # type: ignore[union-attr]
    _, view, _ = claim(db_engine, genuine.ticket_id or 0, 1)
    assert [p.first_line for p in view.history] == ["Order 1234 to 5 Elm St"]
    _, view, _ = claim(db_engine, forged.ticket_id or 0, 1)
    assert view.history == () and view.body == "What was my address?"


@pytest.mark.parametrize("how", ["tag", "in-reply-to"])
def test_forged_reply_opens_a_flagged_linked_ticket(session: Session, how: str) -> None:
    ing = _ingester(session)
    victim = ing.ingest(_signed("My order", Message_ID="<v1@shop.example>"), "t:1")
    vid = victim.ticket_id
    thread = (
        {"Subject": f"Re: [TF-{vid}] Order late"}
        if how == "tag"
        else {"In_Reply_To": "<v1@shop.example>", "Subject": "Re: Order late"}
    )
    forged = ing.ingest(
        make_mail("Send it to me instead", From="eve@evil.example", **thread), "t:2"
    )
    assert forged.outcome is Outcome.ingested and forged.ticket_id != vid
    ticket = session.get(Ticket, forged.ticket_id)
    assert ticket is not None and ticket.linked_ticket_id == vid
    assert ticket.flag is not None and ticket.flag.startswith("possible spoof")
    original = session.get(Ticket, vid)
    assert original is not None and original.revision == 1 and "instead" not in original.body
    public = TicketPublic.model_validate(ticket)  # what GET /tickets/{id} and /review return
    assert public.flag == ticket.flag and public.linked_ticket_id == vid
    # The customer's own reply still joins, even unauthenticated (and makes it unverified).
    own = ing.ingest(make_mail("Any news?", From="ana@shop.example", **thread), "t:3")
    assert own.outcome is Outcome.threaded and own.ticket_id == vid
    session.refresh(original)
    assert original.sender_verified is False


def test_authenticated_colleague_may_reply_in_thread(session: Session) -> None:
    ing = _ingester(session)
    victim = ing.ingest(_signed("My order", Message_ID="<v1@shop.example>"), "t:1")
    cc = ing.ingest(
        _signed("Adding my colleague", sender="bo@shop.example", In_Reply_To="<v1@shop.example>"),
        "t:2",
    )
    assert cc.outcome is Outcome.threaded and cc.ticket_id == victim.ticket_id


def test_the_api_shows_the_flag_and_the_link(session: Session, client: TestClient) -> None:
    ing = _ingester(session)
    victim = ing.ingest(_signed("My order", Message_ID="<v1@shop.example>"), "t:1")
    forged = ing.ingest(
        make_mail("x", From="eve@evil.example", Subject=f"Re: [TF-{victim.ticket_id}]"), "t:2"
    )
    body = client.get(f"/tickets/{forged.ticket_id}", headers=KEY).json()
    assert body["flag"].startswith("possible spoof") and body["sender_verified"] is False
    assert body["linked_ticket_id"] == victim.ticket_id
    assert client.get(f"/tickets/{victim.ticket_id}", headers=KEY).json()["sender_verified"] is True
    api = client.post("/tickets", json={"body": "hi", "customer_email": "a@b.example"}, headers=KEY)
    assert api.json()["sender_verified"] is None  # the integration asserts the customer
