"""Ingestion on SQLite and PostgreSQL: tickets, duplicates, threads, skips and quarantine."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlmodel import Session, select

from producer.email.ingest import EmailIngester, IngestCounts, Outcome
from producer.email.run import ingest_all
from producer.email.sources import iter_eml
from shared.models import QuarantinedInput, Ticket, TicketMessage, TicketStatus
from tests.factories import make_ticket
from tests.helpers import RecordingPublisher
from tests.producer.test_email_parse import CORPUS, big_attachment_mail


@pytest.fixture
def ingester(session: Session, publisher: RecordingPublisher) -> EmailIngester:
    """`publisher` is the recording double from tests/producer/conftest.py."""
    return EmailIngester(session, publisher, "tickets")


def ingest_file(ingester: EmailIngester, name: str):
    return ingester.ingest((CORPUS / name).read_bytes(), f"eml:{name}")


def make_mail(body: str = "Hello, my order is late.", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Ana <ana@example.com>")
    msg["Subject"] = headers.pop("Subject", "Order late")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_new_mail_becomes_ticket_and_first_message(session, ingester, publisher):
    result = ingest_file(ingester, "01_plain_signature.eml")
    assert result.outcome is Outcome.ingested
    ticket = session.get(Ticket, result.ticket_id)
    assert ticket is not None
    assert (ticket.source, ticket.external_id) == ("email", "<plain-0001@example.com>")
    assert (ticket.customer_email, ticket.customer_name) == ("ana@example.com", "Ana Lima")
    assert ticket.subject == "Card charged twice for order 1234"
    assert ticket.body == "Hello,\n\nI was charged twice for order 1234. Please refund one payment."
    assert ticket.enqueued_at is not None
    (message,) = session.exec(select(TicketMessage)).all()
    assert message.ticket_id == ticket.id and message.message_id == "<plain-0001@example.com>"
    assert message.body == ticket.body
    assert "Head of Ops" in message.body_original and "Head of Ops" not in message.body
    assert publisher.sent == [(ticket.id, 1, "tickets")]


def test_same_mail_twice_is_one_ticket(session, ingester, publisher):
    first = ingest_file(ingester, "01_plain_signature.eml")
    again = ingest_file(ingester, "02_plain_resent_duplicate.eml")
    assert again.outcome is Outcome.duplicate and again.ticket_id == first.ticket_id
    assert len(session.exec(select(Ticket)).all()) == 1
    assert len(session.exec(select(TicketMessage)).all()) == 1
    assert len(publisher.sent) == 1


def test_mail_without_message_id_is_deduplicated_by_content(session, ingester):
    raw = make_mail()
    assert ingester.ingest(raw, "a").outcome is Outcome.ingested
    assert ingester.ingest(raw, "b").outcome is Outcome.duplicate
    (ticket,) = session.exec(select(Ticket)).all()
    assert ticket.external_id is not None and ticket.external_id.startswith("raw-sha256:")


def test_overlong_message_id_is_hashed(session, ingester):
    long_id = "<" + "x" * 700 + "@example.com>"
    assert ingester.ingest(make_mail(Message_ID=long_id), "a").outcome is Outcome.ingested
    assert ingester.ingest(make_mail(Message_ID=long_id), "a").outcome is Outcome.duplicate
    ticket = session.exec(select(Ticket)).one()
    assert ticket.external_id is not None and ticket.external_id.startswith("sha256:")


def test_thread_of_three_replies_is_one_ticket_retriaged(session, ingester, publisher):
    names = ["10_thread_1_first.eml", "11_thread_2_reply.eml",
             "12_thread_3_reply_references.eml", "13_thread_4_outlook_reply.eml"]  # fmt: skip
    outcomes = [ingest_file(ingester, n).outcome for n in names]
    assert outcomes == [Outcome.ingested, Outcome.threaded, Outcome.threaded, Outcome.threaded]
    (ticket,) = session.exec(select(Ticket)).all()
    session.refresh(ticket)
    assert ticket.revision == 4 and ticket.status == TicketStatus.queued
    assert ticket.subject == "Cannot upload files"
    order = ["error 413", "30 MB", "(2 MB) upload fine", "month-end closing"]
    positions = [ticket.body.index(snippet) for snippet in order]
    assert positions == sorted(positions)
    assert "> Hello" not in ticket.body and "Sent from my iPhone" not in ticket.body
    assert ticket.body.count("From: maria@example.es") == 4
    messages = session.exec(select(TicketMessage).order_by(TicketMessage.id)).all()
    assert [m.message_id for m in messages] == [f"<thread-{i}@example.es>" for i in range(1, 5)]
    assert [c[1] for c in publisher.sent] == [1, 2, 3, 4]


def test_reply_delivered_twice_is_added_once(session, ingester, publisher):
    ingest_file(ingester, "10_thread_1_first.eml")
    assert ingest_file(ingester, "11_thread_2_reply.eml").outcome is Outcome.threaded
    assert ingest_file(ingester, "11_thread_2_reply.eml").outcome is Outcome.duplicate
    assert len(session.exec(select(TicketMessage)).all()) == 2
    assert len(publisher.sent) == 2


def test_subject_reference_threads_into_an_api_ticket(session, ingester, publisher):
    api_ticket = make_ticket(session, source="api", body="My card was charged twice.")
    raw = make_mail("Any news on the refund?", Subject=f"Re: Your request [TF-{api_ticket.id}]",
                    Message_ID="<ref-1@example.com>")  # fmt: skip
    result = ingester.ingest(raw, "x")
    assert result.outcome is Outcome.threaded and result.ticket_id == api_ticket.id
    session.refresh(api_ticket)
    assert api_ticket.body.index("charged twice") < api_ticket.body.index("Any news")
    messages = session.exec(select(TicketMessage).order_by(TicketMessage.id)).all()
    assert [m.message_id for m in messages] == [None, "<ref-1@example.com>"]
    assert messages[0].body_original == "My card was charged twice."
    assert publisher.sent == [(api_ticket.id, 2, "tickets")]


def test_unknown_subject_reference_opens_a_new_ticket(session, ingester):
    raw = make_mail(Subject="Re: [TF-999999]", Message_ID="<ref-2@example.com>")
    assert ingester.ingest(raw, "x").outcome is Outcome.ingested


def test_machine_mail_is_skipped_with_a_reason(session, ingester, publisher):
    for name, reason in [("14_bounce.eml", "bounce"), ("15_auto_reply.eml", "auto-reply"),
                         ("16_precedence_bulk.eml", "bulk mail")]:  # fmt: skip
        result = ingest_file(ingester, name)
        assert result.outcome is Outcome.skipped and result.reason.startswith(reason)
    assert session.exec(select(Ticket)).all() == [] and publisher.sent == []


def test_mail_with_nothing_to_read_is_quarantined_with_raw_bytes(session, ingester):
    result = ingest_file(ingester, "20_no_body.eml")
    assert result.outcome is Outcome.quarantined
    (row,) = session.exec(select(QuarantinedInput)).all()
    assert row.source == "email" and row.origin == "eml:20_no_body.eml"
    assert row.raw == (CORPUS / "20_no_body.eml").read_bytes()
    assert "no text" in row.reason
    assert ingest_file(ingester, "20_no_body.eml").outcome is Outcome.duplicate  # kept once


def test_attachment_only_mail_is_ingested_on_its_attachment_list(session, ingester):
    result = ingest_file(ingester, "22_attachment_only.eml")
    assert result.outcome is Outcome.ingested
    ticket = session.get(Ticket, result.ticket_id)
    assert ticket is not None and ticket.body == "(no text; attachments: receipt.png)"


def test_damaged_mail_is_ingested_with_what_could_be_read(session, ingester):
    for name in ["17_unknown_charset.eml", "18_undecodable_bytes.eml", "19_broken_mime.eml"]:
        assert ingest_file(ingester, name).outcome is Outcome.ingested, name
    bodies = {t.external_id: t.body for t in session.exec(select(Ticket)).all()}
    assert "déjà vu" in bodies["<charset-0017@example.kr>"]
    assert "café order" in bodies["<undecodable-0018@example.com>"]
    assert "expired" in bodies["<broken-0019@example.net>"]


def test_ten_megabyte_attachment_is_listed_not_stored(session, ingester):
    result = ingester.ingest(big_attachment_mail(), "big")
    assert result.outcome is Outcome.ingested
    message = session.exec(select(TicketMessage)).one()
    assert message.attachments == [{"filename": "server.log.gz",
                                    "content_type": "application/gzip",
                                    "size": 10 * 1024 * 1024}]  # fmt: skip
    assert len(message.body_original) < 1000


def test_mail_over_the_size_limit_is_quarantined(session, publisher):
    small = EmailIngester(session, publisher, "tickets", max_message_bytes=1024 * 1024)
    result = small.ingest(big_attachment_mail(2 * 1024 * 1024), "big")
    assert result.outcome is Outcome.quarantined and "over the 1048576 limit" in result.reason
    assert session.exec(select(Ticket)).all() == []


def test_long_body_is_truncated_for_the_model_but_kept_whole(session, publisher):
    ingester = EmailIngester(session, publisher, "tickets", max_body_chars=1000)
    result = ingester.ingest(make_mail("word " * 1000, Message_ID="<long@x.com>"), "x")
    ticket = session.get(Ticket, result.ticket_id)
    assert ticket is not None and len(ticket.body) <= 1000
    assert ticket.body.endswith("[message truncated]")
    assert len(session.exec(select(TicketMessage)).one().body_original) >= 5000


def test_invalid_sender_address_still_makes_a_ticket(session, ingester):
    raw = make_mail(From="not an address", Message_ID="<noaddr@x.com>")
    result = ingester.ingest(raw, "x")
    assert result.outcome is Outcome.ingested
    ticket = session.get(Ticket, result.ticket_id)
    assert ticket is not None and ticket.customer_email is None


def test_queue_down_keeps_the_ticket_for_requeue(session):
    ingester = EmailIngester(session, RecordingPublisher(fail=True), "tickets")
    result = ingest_file(ingester, "01_plain_signature.eml")
    assert result.outcome is Outcome.ingested
    ticket = session.get(Ticket, result.ticket_id)
    assert ticket is not None and ticket.enqueued_at is None  # requeue_unsent finds it


def test_unexpected_error_quarantines_instead_of_raising(session, ingester, monkeypatch):
    def boom(*_args):
        raise RuntimeError("parser bug")

    monkeypatch.setattr("producer.email.ingest.automated_reason", boom)
    result = ingest_file(ingester, "01_plain_signature.eml")
    assert result.outcome is Outcome.quarantined and "parser bug" in result.reason
    assert session.exec(select(QuarantinedInput)).one().raw.startswith(b"From: Ana")


def test_whole_corpus_counts(session, ingester, publisher):
    counts = IngestCounts()
    acked: list[str] = []
    mails = list(iter_eml([CORPUS]))
    ingest_all(ingester, mails, counts, acked.append)
    assert counts.summary() == "ingested=14 threaded=3 duplicate=1 skipped=3 quarantined=1"
    assert counts.total == len(mails) == 22
    assert len(acked) == 4  # one line per skipped or quarantined mail
    assert len(session.exec(select(Ticket)).all()) == 14


def test_ticket_stored_without_its_message_row_is_repaired(session, ingester, publisher):
    # A run that stopped between committing the ticket and its message row.
    make_ticket(session, source="email", external_id="<plain-0001@example.com>")
    result = ingest_file(ingester, "01_plain_signature.eml")
    assert result.outcome is Outcome.duplicate
    assert session.exec(select(TicketMessage)).one().message_id == "<plain-0001@example.com>"


def test_subject_reference_from_a_stranger_opens_a_new_ticket(session, ingester, publisher):
    """Ticket numbers are guessable: a stranger cannot add to, or reopen, someone's ticket."""
    ticket = make_ticket(session, source="api", status=TicketStatus.approved)
    raw = make_mail("Please send the refund to my account instead.",
                    From="Mallory <mallory@evil.example>",
                    Subject=f"Re: [TF-{ticket.id}]", Message_ID="<spoof@evil.example>")  # fmt: skip
    result = ingester.ingest(raw, "x")
    assert result.outcome is Outcome.ingested and result.ticket_id != ticket.id
    session.refresh(ticket)
    assert (ticket.status, ticket.revision) == (TicketStatus.approved, 1)
    assert "refund to my account" not in ticket.body


def test_subject_reference_matches_the_address_ignoring_case(session, ingester):
    ticket = make_ticket(session, source="api")
    raw = make_mail("Any news?", From="ANA <Ana@Example.COM>", Subject=f"Re: [TF-{ticket.id}]",
                    Message_ID="<case@example.com>")  # fmt: skip
    assert ingester.ingest(raw, "x").outcome is Outcome.threaded


def test_date_beyond_year_9999_is_ignored_not_quarantined(session, ingester):
    raw = make_mail(Date="Fri, 31 Dec 9999 23:59:00 -0500", Message_ID="<far@x.com>")
    result = ingester.ingest(raw, "x")
    assert result.outcome is Outcome.ingested
    ticket = session.get(Ticket, result.ticket_id)
    assert ticket is not None and ticket.received_at is None


def test_file_with_no_mail_headers_is_quarantined(session, ingester):
    junk = bytes(range(256)) * 8
    result = ingester.ingest(junk, "eml:junk.eml")
    assert result.outcome is Outcome.quarantined and "no header lines" in result.reason
    assert session.exec(select(Ticket)).all() == []
    assert session.exec(select(QuarantinedInput)).one().raw == junk
