"""Email replies against a real SMTP server on loopback (aiosmtpd): headers and threading,
the customer's answer threading back, permanent and transient failures."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from delivery.send import Channels, Outcome, deliver_reply
from producer.email.ingest import EmailIngester
from producer.email.ingest import Outcome as IngestOutcome
from shared.config import Settings
from shared.models import OutboundMessage, Ticket, TicketMessage
from tests.delivery.conftest import approved
from tests.delivery.servers import SmtpSink
from tests.helpers import RecordingPublisher

CUSTOMER_MAIL = b"""From: Ana Lima <ana@example.com>
To: help@shop.example
Subject: Card charged twice
Message-ID: <first-123@mail.example.com>
Date: Fri, 04 Dec 2026 10:00:00 +0000

I was charged twice for order 1234.
"""


def _deliver(db: Engine, settings: Settings) -> list[Outcome]:
    channels = Channels.from_settings(settings)
    try:
        with Session(db) as s:
            ids = [m.id for m in s.exec(select(OutboundMessage)).all()]
        return [deliver_reply(db, settings, channels, i or 0) for i in ids]
    finally:
        channels.close()


def _deliveries(outcome: str) -> float:
    """What the delivery metric has counted so far for email replies with this outcome."""
    labels = {"channel": "email", "outcome": outcome}
    return REGISTRY.get_sample_value("ticketflow_deliveries_total", labels) or 0.0


def _row(session: Session) -> OutboundMessage:
    session.expire_all()
    return session.exec(select(OutboundMessage)).one()


def test_reply_threads_both_ways(
    session: Session, db_engine: Engine, dsettings: Settings, smtp_sink: SmtpSink
) -> None:
    ingester = EmailIngester(session, RecordingPublisher(), dsettings.queue)
    first = ingester.ingest(CUSTOMER_MAIL, "inbox:1")
    ticket = session.get_one(Ticket, first.ticket_id)
    ticket.status = "triaged"  # type: ignore[assignment]
    session.commit()
    t = approved_existing(session, dsettings, ticket)
    assert _deliver(db_engine, dsettings) == [Outcome.sent]
    (mail,) = smtp_sink.wait_for(1)
    assert mail["From"] == "Shop Support <help@shop.example>"
    assert mail["To"] == "Ana Lima <ana@example.com>"
    assert mail["Subject"] == f"Re: Card charged twice [TF-{t.id}]"
    assert mail["In-Reply-To"] == "<first-123@mail.example.com>"
    assert mail["References"] == "<first-123@mail.example.com>"
    row = _row(session)
    assert mail["Message-ID"] == row.remote_id and row.status == "sent" and row.sent_at
    assert mail.get_content().strip() == "Your refund is on its way."
    # The reply is on the ticket as an outgoing message.
    msgs = session.exec(select(TicketMessage).where(TicketMessage.ticket_id == t.id)).all()
    assert [m.sender for m in msgs] == ["ana@example.com", "help@shop.example"]

    # The customer's mail client answers the delivered mail; ingest-email threads it.
    answer = EmailMessage()
    answer["From"] = "Ana Lima <ana@example.com>"
    answer["To"] = mail["From"]
    answer["Subject"] = "Re: " + mail["Subject"]
    answer["Message-ID"] = "<answer-456@mail.example.com>"
    answer["In-Reply-To"] = mail["Message-ID"]
    answer["References"] = f"{mail['References']} {mail['Message-ID']}"
    answer.set_content("Thanks, but I still see both charges.\n\n> Your refund is on its way.")
    result = ingester.ingest(answer.as_bytes(), "inbox:2")
    assert result.outcome == IngestOutcome.threaded and result.ticket_id == t.id
    session.refresh(ticket)
    assert ticket.revision == 2 and "Your refund is on its way." in ticket.body


def approved_existing(session: Session, settings: Settings, ticket: Ticket) -> Ticket:
    from review.service import submit_review
    from shared.models import ReviewCreate
    from tests.factories import make_result

    make_result(session, ticket.id, draft_reply="Your refund is on its way.")
    assert ticket.id is not None
    submit_review(
        session,
        ticket.id,
        ReviewCreate(decision="approve", reviewer="s", revision=1),
        {},
        settings,
    )
    return ticket


def test_unknown_recipient_fails_with_the_servers_reason(
    session: Session, db_engine: Engine, dsettings: Settings, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refuse.add("ghost@example.com")
    approved(session, dsettings, customer_email="ghost@example.com")
    failed_before = _deliveries("failed")
    assert _deliver(db_engine, dsettings) == [Outcome.failed]
    assert _deliveries("failed") == failed_before + 1
    row = _row(session)
    assert row.status == "failed" and row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith("recipient refused: 550")
    assert smtp_sink.received == []


def test_email_ticket_without_address_fails_clearly(
    session: Session, db_engine: Engine, dsettings: Settings, smtp_sink: SmtpSink
) -> None:
    approved(session, dsettings, source="email", customer_email=None)
    assert _deliver(db_engine, dsettings) == [Outcome.failed]
    assert _row(session).last_error == "the ticket has no customer email address to reply to"


def test_header_injection_is_folded_not_obeyed(
    session: Session, db_engine: Engine, dsettings: Settings, smtp_sink: SmtpSink
) -> None:
    approved(
        session,
        dsettings,
        subject="Help\r\nBcc: victim@evil.example",
        customer_name="Ana\r\nX-Injected: yes",
    )
    assert _deliver(db_engine, dsettings) == [Outcome.sent]
    (mail,) = smtp_sink.wait_for(1)
    assert mail["Bcc"] is None and mail["X-Injected"] is None
    assert mail["Subject"].startswith("Re: Help Bcc: victim@evil.example [TF-")
    raw = smtp_sink.received[0]
    assert b"\nBcc:" not in raw and b"\nX-Injected:" not in raw


def test_smtp_down_then_up(
    session: Session, db_engine: Engine, dsettings: Settings, smtp_sink: SmtpSink
) -> None:
    approved(session, dsettings)
    smtp_sink.stop()
    retries, sent = _deliveries("retry"), _deliveries("sent")
    assert _deliver(db_engine, dsettings) == [Outcome.retry]
    assert _deliveries("retry") == retries + 1
    row = _row(session)
    assert row.status == "pending" and row.attempts == 1 and row.enqueued_at is None
    assert "SMTP server unreachable" in (row.last_error or "")
    smtp_sink.start()
    import time

    time.sleep(0.06)  # the backoff (max 0.05 s in these settings)
    assert _deliver(db_engine, dsettings) == [Outcome.sent]
    assert len(smtp_sink.wait_for(1)) == 1 and _row(session).attempts == 2
    assert _deliveries("sent") == sent + 1


def test_gives_up_after_the_attempt_limit(
    session: Session, db_engine: Engine, dsettings: Settings, smtp_sink: SmtpSink
) -> None:
    import time

    approved(session, dsettings)
    smtp_sink.stop()
    outcomes = []
    for _ in range(dsettings.delivery_max_attempts):
        outcomes += _deliver(db_engine, dsettings)
        time.sleep(0.06)
    assert outcomes == [Outcome.retry, Outcome.retry, Outcome.failed]
    row = _row(session)
    assert row.status == "failed" and (row.last_error or "").startswith("gave up after 3")
    smtp_sink.start()
    assert _deliver(db_engine, dsettings) == [Outcome.skipped]  # failed stays failed


@pytest.mark.parametrize("decision", ["reject", None])
def test_rejected_or_unreviewed_never_sent(
    session: Session, db_engine: Engine, dsettings: Settings, smtp_sink: SmtpSink, decision: str
) -> None:
    from tests.factories import make_result, make_ticket

    if decision:
        approved(session, dsettings, decision)
    else:
        t = make_ticket(session, status="triaged")
        make_result(session, t.id)
    # Even a forged message for every possible row id finds nothing to send.
    channels = Channels.from_settings(dsettings)
    assert {deliver_reply(db_engine, dsettings, channels, i) for i in range(1, 5)} == {
        Outcome.skipped
    }
    channels.close()
    assert session.exec(select(OutboundMessage)).all() == [] and smtp_sink.received == []


# aiosmtpd warns that AUTH without TLS is unsafe: true, and the reason this is loopback only.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # network only
def test_smtp_auth_with_the_password_from_the_url(
    session: Session, db_engine: Engine, dsettings: Settings
) -> None:
    from pydantic import SecretStr

    sink = SmtpSink(login=("bot@shop.example", "p@ss word")).start()
    try:
        good = f"smtp://bot%40shop.example:p%40ss%20word@127.0.0.1:{sink.port}"
        bad = f"smtp://bot%40shop.example:wrong@127.0.0.1:{sink.port}"
        approved(session, dsettings)
        refused = dsettings.model_copy(update={"smtp_url": SecretStr(bad)})
        assert _deliver(db_engine, refused) == [Outcome.retry]
        assert "SMTP login refused (535)" in (_row(session).last_error or "")
        import time

        time.sleep(0.06)
        accepted = dsettings.model_copy(update={"smtp_url": SecretStr(good)})
        assert _deliver(db_engine, accepted) == [Outcome.sent]
        assert len(sink.wait_for(1)) == 1
    finally:
        sink.stop()
