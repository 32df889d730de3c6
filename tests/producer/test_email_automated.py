"""Machine-written mail is recognised: auto-replies, bulk mail, bounces."""

from __future__ import annotations

import pytest

from producer.email.automated import automated_reason
from producer.email.parse import parse_email
from tests.producer.test_email_parse import parsed


def mail(headers: str, body: str = "Hello") -> bytes:
    return f"{headers}\r\nSubject: x\r\n\r\n{body}\r\n".encode()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("14_bounce.eml", "bounce"),
        ("15_auto_reply.eml", "auto-reply (Auto-Submitted: auto-replied)"),
        ("16_precedence_bulk.eml", "bulk mail (Precedence: bulk)"),
    ],
)
def test_corpus_machine_mail(name, reason):
    assert (automated_reason(parsed(name)) or "").startswith(reason)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("From: a@x.com\r\nAuto-Submitted: auto-generated", "auto-reply"),
        ("From: a@x.com\r\nX-Autoreply: yes", "auto-reply"),
        ("From: a@x.com\r\nPrecedence: junk", "bulk mail"),
        ("From: a@x.com\r\nPrecedence: list", "bulk mail"),
        ("From: postmaster@x.com", "bounce"),
        ("From: a@x.com\r\nX-Failed-Recipients: b@y.com", "bounce"),
        ("From: a@x.com\r\nContent-Type: multipart/report; report-type=\"delivery-status\"; "
         "boundary=b", "bounce"),
    ],
)  # fmt: skip
def test_header_rules(headers, reason):
    assert (automated_reason(parse_email(mail(headers))) or "").startswith(reason)


@pytest.mark.parametrize(
    "name", ["01_plain_signature.eml", "08_gb2312_chinese.eml", "10_thread_1_first.eml"]
)
def test_people_are_not_machines(name):
    assert automated_reason(parsed(name)) is None


def test_auto_submitted_no_is_a_person():
    assert automated_reason(parse_email(mail("From: a@x.com\r\nAuto-Submitted: no"))) is None
