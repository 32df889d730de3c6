"""`forget` removes a customer completely, `purge` what is past retention; both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from typer.testing import CliRunner

from privacy.erasure import TICKET_CHILDREN, forget, parse_age, purge
from review.outbox import add_reply
from shared.config import load_settings
from shared.models import (
    THREAD_SEPARATOR,
    ConnectorWrite,
    QuarantinedInput,
    ReplyExample,
    Review,
    Ticket,
    TicketMessage,
    TriageResult,
    utcnow,
)
from shared.webhook_events import add_event
from tests.conftest import SetEnv
from tests.factories import make_result, make_ticket
from ticketflow.cli import app

ANA = "Ana.Lopez@example.org"
TABLES = [
    "ticket",
    "ticket_message",
    "triage_result",
    "review",
    "quarantined_input",
    "outbound_message",
    "webhook_delivery",
    "reply_example",
    "connector_write",
]


def _customer_data(session: Session) -> tuple[int, int]:
    """Ana: two tickets (one a thread), a result and a review, a message in Bob's thread, a
    quarantined mail. Bob: his own ticket, with Ana's message in it."""
    a1 = make_ticket(session, customer_email=ANA.lower(), body="card 4111 1111 1111 1111")
    a2 = make_ticket(session, customer_email=ANA, body="again")
    result = make_result(session, a1.id, draft_reply=f"Dear Ana ({ANA})")
    session.add(
        Review(ticket_id=a1.id, triage_result_id=result.id or 0, decision="approve", reviewer="r")
    )
    # The approved reply waiting in the outbox, and its event for a webhook endpoint.
    add_reply(session, a1, f"Dear Ana ({ANA})", load_settings(support_address="help@shop.example"))
    add_event(session, ["https://hooks.example/tf"], "ticket.reviewed", a1.id, {"to": ANA})
    session.add(
        ReplyExample(ticket_id=a1.id, language="en", ticket_text=a1.body, reply=f"Dear {ANA}")
    )
    # The draft on its way back to the helpdesk the ticket came from (connectors/).
    session.add(
        ConnectorWrite(
            connector="desk",
            ticket_id=a1.id or 0,
            kind="draft",
            idempotency_key="desk:1:draft:rev-1",
            payload={"ticket_ref": "1", "text": f"Dear Ana ({ANA})"},
        )
    )
    for body, sender in (("first", ANA), ("second", ANA)):
        session.add(
            TicketMessage(ticket_id=a2.id or 0, sender=sender, body=body, body_original=body)
        )
    bob = make_ticket(session, customer_email="bob@example.org", body="bob's question")
    for body, sender in (("bob's question", "bob@example.org"), ("ana was here", ANA.upper())):
        session.add(
            TicketMessage(ticket_id=bob.id or 0, sender=sender, body=body, body_original=body)
        )
    bob.body = "bob's question" + THREAD_SEPARATOR + "ana was here"
    flagged = make_ticket(session, customer_email="eve@evil.example", linked_ticket_id=a1.id)
    raw = f"From: {ANA}\r\nSubject: hi\r\n\r\nbroken".encode()
    session.add(QuarantinedInput(source="email", origin="mbox:1", reason="x", raw=raw))
    session.add(QuarantinedInput(source="email", origin="mbox:2", reason="x", raw=b"From: z@z.z"))
    session.add(bob)
    session.commit()
    return bob.id or 0, flagged.id or 0


def _mentions(session: Session, needle: str) -> list[str]:
    """Every row of every table whose text mentions ``needle``."""
    found = []
    for table in TABLES:
        for row in session.execute(text(f"SELECT * FROM {table}")).all():
            if needle.lower() in str(row).lower():
                found.append(f"{table}: {row}")
    return found


def test_forget_removes_a_customer_completely(session: Session) -> None:
    bob_id, flagged_id = _customer_data(session)
    assert _mentions(session, ANA) and _mentions(session, "4111 1111")
    dry = forget(session, ANA, dry_run=True)
    assert dry["ticket"] == 2 and _mentions(session, ANA)  # a dry run deletes nothing
    removed = forget(session, ANA.upper())
    assert dict(removed) == {
        "ticket": 2,
        "review": 1,
        "triage_result": 1,
        "ticket_message": 3,
        "quarantined_input": 1,
        "outbound_message": 1,
        "webhook_delivery": 1,
        "reply_example": 1,
        "connector_write": 1,
    }
    session.expire_all()
    assert _mentions(session, ANA) == [] and _mentions(session, "4111 1111") == []
    assert _mentions(session, "ana was here") == []
    bob = session.get(Ticket, bob_id)
    assert bob is not None and "bob's question" in bob.body
    flagged = session.get(Ticket, flagged_id)
    assert flagged is not None and flagged.linked_ticket_id is None
    assert len(session.exec(select(QuarantinedInput)).all()) == 1


def test_purge_removes_what_is_past_retention(session: Session) -> None:
    old = make_ticket(session, updated_at=utcnow() - timedelta(days=400))
    make_result(session, old.id)
    session.add(TicketMessage(ticket_id=old.id or 0, body="x", body_original="x"))
    new = make_ticket(session)
    q_old = QuarantinedInput(
        source="email", reason="x", raw=b"a", created_at=utcnow() - timedelta(days=366)
    )
    session.add_all([q_old, QuarantinedInput(source="email", reason="x", raw=b"b")])
    session.commit()
    removed = purge(session, parse_age("365d"))
    assert dict(removed) == {
        "ticket": 1,
        "review": 0,
        "triage_result": 1,
        "ticket_message": 1,
        "quarantined_input": 1,
        "outbound_message": 0,
        "webhook_delivery": 0,
        "reply_example": 0,
        "connector_write": 0,
    }
    session.expire_all()
    assert [t.id for t in session.exec(select(Ticket)).all()] == [new.id]
    assert session.exec(select(TriageResult)).all() == []


def test_every_table_with_a_ticket_id_is_covered() -> None:
    from sqlmodel import SQLModel

    keyed = {t.name for t in SQLModel.metadata.sorted_tables if "ticket_id" in t.columns}
    # The audit trail keeps who did what to which ticket id, never customer data: erasure
    # leaves it (docs/security.md), as it must not let anyone erase their own tracks.
    assert keyed - {"audit_event"} == {str(m.__tablename__) for m in TICKET_CHILDREN}


@pytest.mark.parametrize(("age", "days"), [("365d", 365), ("52w", 364), ("48h", 2), ("30", 30)])
def test_parse_age(age: str, days: float) -> None:
    assert parse_age(age) == timedelta(days=days)
    with pytest.raises(ValueError, match="not an age"):
        parse_age("a year")


def test_cli_says_what_it_removed(settings_env: SetEnv, db_url: str, session: Session) -> None:
    settings_env(database_url=db_url)
    _customer_data(session)
    result = CliRunner().invoke(app, ["forget", "--email", ANA])
    assert result.exit_code == 0, result.output
    assert (
        f"forget {ANA}: removed: 2 ticket" in result.output
        and "1 quarantined_input" in result.output
    )
    result = CliRunner().invoke(app, ["purge", "--older-than", "soon"])
    assert result.exit_code == 2 and "not an age" in result.output
    result = CliRunner().invoke(app, ["purge", "--older-than", "1h", "--dry-run"])
    assert result.exit_code == 0 and "would remove" in result.output
