"""Fitting an approved reply or a template to a new ticket: names and order numbers swapped."""

from __future__ import annotations

from worker.drafting.adapt import adapt_reply

APPROVED = (
    "Dear Peter,\n\nWe have opened an investigation with the carrier for order #48213. "
    "Peter, we will write again within 5 business days.\n\nThe Support Team"
)


def test_approved_reply_gets_the_new_name_and_order_number() -> None:
    out = adapt_reply(
        APPROVED,
        old_ticket="Where is my order #48213?",
        old_name="Peter Okafor",
        new_ticket="Order 51377 has not arrived",
        new_name="Boris Novak",
        language="en",
    )
    assert out.startswith("Dear Boris,") and "Boris, we will" in out
    assert "#51377" in out and "48213" not in out
    assert "5 business days" in out  # numbers that were not the ticket's stay


def test_missing_details_become_visible_slots_not_guesses() -> None:
    out = adapt_reply(
        APPROVED,
        old_ticket="Where is my order #48213?",
        old_name="Peter Okafor",
        new_ticket="My parcel is late",
        new_name=None,
        language="en",
    )
    assert out.startswith("Dear customer,") and "{order}" in out


def test_template_slots_are_filled() -> None:
    out = adapt_reply(
        "Hallo {name},\n\nIhre Bestellung {order} ist unterwegs.",
        old_ticket="",
        old_name=None,
        new_ticket="Bestellung 71550",
        new_name="Lukas Weber",
        language="de",
    )
    assert out == "Hallo Lukas,\n\nIhre Bestellung 71550 ist unterwegs."
    nameless = adapt_reply("Hallo {name},\n\nDanke.", old_ticket="", old_name=None,
                           new_ticket="x", new_name=None, language="de")  # fmt: skip
    assert nameless.startswith("Hallo,")
