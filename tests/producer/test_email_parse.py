"""Parsing the tricky-mail corpus: charsets, MIME shapes, headers, attachments."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from producer.email.parse import decode_bytes, parse_email

CORPUS = Path(__file__).parents[1] / "fixtures" / "emails"


def parsed(name: str):
    return parse_email((CORPUS / name).read_bytes())


def big_attachment_mail(size: int = 10 * 1024 * 1024) -> bytes:
    """A mail with a `size`-byte attachment, built at runtime so the repo stays small."""
    msg = EmailMessage()
    msg["From"] = "Lee <lee@example.com>"
    msg["To"] = "support@acme.test"
    msg["Subject"] = "Logs attached"
    msg["Message-ID"] = "<big-0001@example.com>"
    msg.set_content("The full server log is attached; the crash is at 03:12.")
    msg.add_attachment(b"\x00" * size, maintype="application", subtype="gzip",
                       filename="server.log.gz")  # fmt: skip
    return msg.as_bytes()


@pytest.mark.parametrize(
    ("name", "sender", "subject", "snippet"),
    [
        ("01_plain_signature.eml", "ana@example.com", "Card charged twice for order 1234",
         "charged twice"),
        ("03_multipart_alternative.eml", "bo@example.org", "Export button broken", "Firefox 126"),
        ("05_base64_utf8.eml", "joao@example.pt", "Aplicação trava nos relatórios",
         "A aplicação trava"),
        ("06_qp_latin1.eml", "juergen@example.de", "Bestellung nicht angekommen über Post",
         "über 50 € ist"),
        ("07_latin1_8bit.eml", "rene@example.fr", "Problème de connexion", "réinitialisé"),
        ("08_gb2312_chinese.eml", "wang@example.cn", "账户无法登录", "我的账户无法登录"),
        ("09_utf8_chinese_8bit.eml", "lina@example.cn", "发票抬头错误", "订单 5678"),
        ("17_unknown_charset.eml", "kim@example.kr", "Refund request", "déjà vu"),
        ("18_undecodable_bytes.eml", "broken@example.com", "Café order € problem",
         "café order arrived cold “twice”"),
        ("19_broken_mime.eml", "pat@example.net", "Password reset link expired",
         "reset link you sent"),
    ],
)  # fmt: skip
def test_corpus_decodes_sender_subject_and_body(name, sender, subject, snippet):
    mail = parsed(name)
    assert mail.sender_email == sender
    assert mail.subject == subject
    assert snippet in mail.text
    assert "\ufffd" not in mail.text and "\x00" not in mail.text


def test_headers_decoded_from_encoded_words_and_raw_bytes():
    assert parsed("08_gb2312_chinese.eml").sender_name == "王伟"
    assert parsed("06_qp_latin1.eml").sender_name == "Jürgen Müller"
    assert parsed("07_latin1_8bit.eml").sender_name == "René Dupont"  # raw latin-1 in From
    assert parsed("09_utf8_chinese_8bit.eml").sender_name == "李娜"  # raw UTF-8 (RFC 6532)


def test_message_ids_and_threading_headers():
    mail = parsed("12_thread_3_reply_references.eml")
    assert mail.message_id == "<thread-3@example.es>"
    assert mail.references == ("<thread-1@example.es>", "<thread-2@example.es>")
    assert mail.in_reply_to == ()
    assert parsed("11_thread_2_reply.eml").in_reply_to == ("<thread-1@example.es>",)


def test_date_is_utc_and_bad_date_is_none():
    assert parsed("01_plain_signature.eml").date == datetime(2024, 6, 3, 7, 15, tzinfo=UTC)
    assert parsed("18_undecodable_bytes.eml").date is None


def test_html_only_mail_is_converted_to_text():
    mail = parsed("04_html_only.eml")
    assert mail.from_html
    assert "- INV-100\n- INV-101" in mail.text
    assert "alert(" not in mail.text and "color:red" not in mail.text
    assert "> Your invoices are attached." in mail.text  # blockquote kept as a quote


def test_plain_part_preferred_over_html():
    mail = parsed("03_multipart_alternative.eml")
    assert not mail.from_html
    assert "<p>" not in mail.text


def test_charset_fallback_is_noted():
    assert any("x-mac-klingon" in n for n in parsed("17_unknown_charset.eml").notes)
    assert any("cp1252" in n for n in parsed("18_undecodable_bytes.eml").notes)
    assert any("broken multipart" in n for n in parsed("19_broken_mime.eml").notes)


def test_attachments_listed_with_name_type_size():
    (att,) = parsed("21_with_attachment.eml").attachments
    assert (att.filename, att.content_type) == ("invoice-0042.pdf", "application/pdf")
    assert att.size == 2032
    assert parsed("14_bounce.eml").attachments == ()  # report sections are not files


def test_ten_megabyte_attachment_is_listed_not_kept():
    mail = parse_email(big_attachment_mail())
    (att,) = mail.attachments
    assert att.as_dict() == {"filename": "server.log.gz", "content_type": "application/gzip",
                             "size": 10 * 1024 * 1024}  # fmt: skip
    assert mail.text.startswith("The full server log is attached")


def test_empty_mail_parses_to_empty_text():
    mail = parsed("20_no_body.eml")
    assert mail.text.strip() == "" and mail.subject == "" and mail.attachments == ()


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("价格".encode("gb18030"), "gb2312", "价格"),  # GBK-only chars under a GB2312 label
        ("déjà".encode(), "no-such-charset", "déjà"),
        ("déjà".encode("cp1252"), "utf-8", "déjà"),
        (b"plain", None, "plain"),
    ],
)
def test_decode_bytes_falls_back(data, charset, expected):
    assert decode_bytes(data, charset)[0] == expected


def test_garbage_never_raises_and_reads_what_it_can():
    empty = parse_email(b"")
    assert (empty.text, empty.subject, empty.sender_email, empty.message_id) == ("", "", None, None)

    binary = parse_email(b"\x00\xff\xfe")
    assert binary.text == "\xff\xfe"  # NUL dropped, the rest decoded, never an exception
    assert any("did not decode" in n for n in binary.notes)

    broken = parse_email(b"Content-Type: multipart/mixed\r\n\r\n--x--")
    assert broken.text == "--x--" and "broken multipart: body read as plain text" in broken.notes

    bogus = parse_email(b"From: <<<@@>>>\r\nSubject: =?bogus?Q?x?=\r\n\r\nhi")
    assert (bogus.subject, bogus.text) == ("x", "hi")
    assert not (bogus.sender_email or "").strip("<>"), "no address may be made up from junk"
