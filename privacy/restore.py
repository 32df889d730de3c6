"""Put safe forms of masked values back into a draft, for the reviewer and the customer.

The model only ever saw placeholders. A draft that says "your card [CARD_1]" should read "your
card ending 1111" to the reviewer, never the full number: cards, IBANs and national ids come
back as their last four characters only, secrets never come back, and contact data the customer
gave (their e-mail, phone, an IP they asked about) comes back whole. A placeholder the model made
up (not in the vault) is shown as ``[removed]``.
"""

from __future__ import annotations

import re

from privacy.recognizers import ENTITY_TYPES
from privacy.redact import PLACEHOLDER, Vault

FULL = frozenset({"EMAIL", "PHONE", "IP"})
WITHHELD = "[withheld]"
UNKNOWN = "[removed]"


def last_four(value: str) -> str:
    tail = re.sub(r"[^0-9A-Za-z]", "", value)[-4:]
    return f"\u2022\u2022\u2022\u2022 {tail}"  # •••• 1111


def safe_value(kind: str, value: str) -> str:
    if kind in FULL:
        return value
    if kind == "SECRET":
        return WITHHELD
    return last_four(value)  # CARD, IBAN, SSN and operator-defined ids


def restore(text: str, vault: Vault) -> str:
    def put_back(m: re.Match[str]) -> str:
        entry = vault.values.get(m.group(0))
        if entry:
            return safe_value(*entry)
        known = {k.upper() for k in ENTITY_TYPES} | {kind for kind, _ in vault.values.values()}
        return UNKNOWN if m.group(1) in known else m.group(0)

    return PLACEHOLDER.sub(put_back, text)
