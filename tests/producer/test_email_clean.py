"""Quote and signature stripping, and HTML to text."""

from __future__ import annotations

import pytest

from producer.email.clean import html_to_text, strip_reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Refund please.\n\nOn Mon, 3 Jun 2024 at 10:00, ACME <s@acme.test> wrote:\n> Hi\n",
         "Refund please."),
        ("Still broken.\n\nOn Mon, 3 Jun 2024 at 10:00, A Very Long Name\n<s@acme.test> wrote:\n"
         "> Hi\n", "Still broken."),
        ("Danke.\n\nAm 03.06.2024 um 10:00 schrieb ACME <s@acme.test>:\n> Hallo\n", "Danke."),
        ("Merci.\n\nLe lun. 3 juin 2024, ACME a écrit :\n> Bonjour\n", "Merci."),
        ("好的。\n\n在 2024年6月3日\uff0cACME 写道\uff1a\n> 你好\n", "好的。"),
        ("See below.\n\n-----Original Message-----\nFrom: ACME\nSent: today\n", "See below."),
        ("Any news?\n\n________________________________\nFrom: ACME <s@acme.test>\n"
         "Sent: Monday\nTo: me\nSubject: Re: x\n\nold text\n", "Any news?"),
        ("Answer one\n> question two?\nAnswer two\n", "Answer one\nAnswer two"),
        ("Help!\n\n-- \nAna Lima\nACME Ltd\n", "Help!"),
        ("It crashes.\n\nBest regards,\nAna Lima\nHead of Ops\n", "It crashes."),
        ("Order late.\n\nSent from my iPhone\n", "Order late."),
        ("订单有问题。\n\n发自我的iPhone\n", "订单有问题。"),
    ],
)  # fmt: skip
def test_strip_reply_keeps_only_the_new_text(text, expected):
    assert strip_reply(text) == expected


def test_forwarded_message_is_kept():
    text = (
        "Please look at this complaint.\n\n---------- Forwarded message ---------\n"
        "From: Customer <c@example.com>\nDate: Mon, 3 Jun 2024\nSubject: Broken\nTo: us\n\n"
        "My device is broken.\n"
    )
    assert "My device is broken." in strip_reply(text)


def test_all_quoted_falls_back_to_the_whole_text():
    assert strip_reply("> only a quote\n> nothing new\n") == "> only a quote\n> nothing new"


def test_a_lone_thanks_is_kept():
    assert strip_reply("Thanks!\n") == "Thanks!"


def test_long_lines_after_a_closing_are_not_a_signature():
    text = "Hi,\n\nThanks,\nbut the second payment is still not refunded after three weeks.\n"
    assert "still not refunded" in strip_reply(text)


def test_html_to_text_layout():
    html = (
        "<div>line1</div><div>line2</div><div><br></div><div>a<br>b</div>"
        "<p>para</p><p>x&nbsp;&amp;&lt;y</p><pre>  keep   spaces</pre>"
        "<style>.x{}</style><script>var a;</script>"
    )
    assert html_to_text(html) == "line1\nline2\n\na\nb\n\npara\n\nx &<y\n\nkeep   spaces"


def test_html_blockquote_becomes_quote_lines_and_is_stripped():
    html = (
        "<p>New text.</p><div class='gmail_quote'>On Mon, ACME wrote:"
        "<blockquote><p>Old text</p><blockquote>Older</blockquote></blockquote></div>"
    )
    text = html_to_text(html)
    assert "> Old text" in text and "> > Older" in text
    assert strip_reply(text) == "New text."


def test_broken_html_does_not_raise():
    assert "text" in html_to_text("<p>text<div><<<</b></i><!-- unclosed")
