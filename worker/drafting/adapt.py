"""An approved reply fitted to a new ticket: the customer's name and order numbers swapped.

Mechanical on purpose: a reviewer reads "based on the reply approved for #123" and expects that
reply, with only what was specific to the old ticket changed. Templates name their slots
(``{name}``, ``{order}``); an approved reply names them literally, so the old customer's name
and the numbers the old ticket and reply share are replaced by the new ticket's.
"""

from __future__ import annotations

import re

# Order, invoice and tracking numbers: 4+ digits, optionally after '#', letters allowed in front.
_ORDER = re.compile(r"#?\b[A-Z]{0,4}-?\d{4,}\b")
_SLOT = re.compile(r"\{\s*(name|customer_name|first_name|order|order_number)\s*\}")
GENERIC_NAME = {
    "en": "customer",
    "es": "cliente",
    "fr": "client",
    "it": "cliente",
    "pt": "cliente",
    "nl": "klant",
}


def first_name(name: str | None) -> str:
    parts = (name or "").split()
    return parts[0] if parts else ""


def order_numbers(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0) for m in _ORDER.finditer(text)))


def adapt_reply(
    reply: str,
    *,
    old_ticket: str,
    old_name: str | None,
    new_ticket: str,
    new_name: str | None,
    language: str,
) -> str:
    """``reply`` (written for ``old_ticket``) fitted to ``new_ticket``."""
    name = first_name(new_name) or GENERIC_NAME.get(language, "")
    new_orders = order_numbers(new_ticket)
    ordered = iter(new_orders)

    def slot(m: re.Match[str]) -> str:
        if m.group(1) in ("order", "order_number"):
            return next(ordered, new_orders[0] if new_orders else "{order}")
        return name

    text = _SLOT.sub(slot, reply)
    old_first = first_name(old_name)
    for old in dict.fromkeys(n for n in (old_name or "", old_first) if n):
        text = re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", name, text)
    # Numbers the old ticket and its reply share were that ticket's; swap them in order.
    shared = [n for n in order_numbers(old_ticket) if n in text]
    for i, old in enumerate(shared):
        new = new_orders[i] if i < len(new_orders) else "{order}"
        if old.startswith("#") != new.startswith("#") and new != "{order}":
            new = ("#" + new) if old.startswith("#") else new.lstrip("#")
        text = re.sub(rf"(?<![\w#]){re.escape(old)}(?!\w)", new, text)
    return re.sub(r"[ \t]+([,:;!])", r"\1", text) if not name else text
