"""Recognizers for personal data, each one validated so ordinary numbers are left alone.

Why our own and not Presidio: ``presidio-analyzer`` installs spaCy, thinc and 15 other packages,
its ``AnalyzerEngine`` loads a spaCy language model that cannot be downloaded here, and its
email recognizer asks ``tldextract``, which fetches the public-suffix list over the network. The
checks it would run (Luhn for cards, mod-97 for IBANs, the SSA's rules for SSNs) are a few lines
each; phone numbers come from ``phonenumbers`` (Google's libphonenumber), which is the hard part
and which Presidio itself uses.

Each recognizer is a function ``text -> spans``. Order matters: when spans overlap, the one from
the earlier recognizer in ``ENTITY_TYPES`` wins (a card number is not also a phone number).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """One piece of personal data found in a text: ``text[start:end] == value``."""

    kind: str  # the placeholder's type, upper case: CARD, IBAN, ...
    start: int
    end: int
    value: str


Recognizer = Callable[[str], Iterator[Span]]

# --- payment cards (Luhn) ---------------------------------------------------------------------

_CARD = re.compile(r"(?<![\d.,-])\d(?:[ -]?\d){12,18}(?![\d])")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cards(text: str) -> Iterator[Span]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits):
            yield Span("CARD", m.start(), m.end(), m.group(0))


# --- IBAN (ISO 13616, mod 97) -----------------------------------------------------------------

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}", re.IGNORECASE)


def iban_ok(compact: str) -> bool:
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        # The pattern may run on into the next words ("... 3000 please"): try shorter prefixes
        # ending at a group boundary until one passes the checksum.
        raw = m.group(0)
        ends = [i for i in range(len(raw), 14, -1) if i == len(raw) or raw[i] == " "]
        for end in ends:
            compact = raw[:end].replace(" ", "").upper()
            if iban_ok(compact):
                yield Span("IBAN", m.start(), m.start() + end, raw[:end])
                break


# --- e-mail addresses -------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\b"
)


def emails(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        yield Span("EMAIL", m.start(), m.end(), m.group(0))


# --- US social security numbers (SSA rules) ---------------------------------------------------

_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_SSN_CONTEXT = re.compile(r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\s*[:#]?\s*(\d{9})\b")


def ssn_ok(area: str, group: str, serial: str) -> bool:
    return (
        area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
    )


def ssns(text: str) -> Iterator[Span]:
    for m in _SSN.finditer(text):
        if ssn_ok(m.group(1), m.group(3), m.group(4)):
            yield Span("SSN", m.start(), m.end(), m.group(0))
    for m in _SSN_CONTEXT.finditer(text):  # nine bare digits only right after "SSN"
        d = m.group(1)
        if ssn_ok(d[:3], d[3:5], d[5:]):
            yield Span("SSN", m.start(1), m.end(1), d)


# --- IP addresses -----------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def ips(text: str) -> Iterator[Span]:
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group(0))
        except ValueError:
            continue
        yield Span("IP", m.start(), m.end(), m.group(0))
    for m in _IPV6.finditer(text):
        value = m.group(0)
        if sum(c.isalnum() for c in value) < 4:  # "::" or "a::b" in prose, times are not valid
            continue
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        yield Span("IP", m.start(), m.end(), value)


# --- secrets: passwords and tokens ------------------------------------------------------------

_SECRET_AFTER_WORD = re.compile(
    r"(?i)\b(?:password|passwd|passphrase|pwd|passcode|pin|api[ _-]?key|access[ _-]?key|"
    r"secret|token|otp|one[- ]time code|verification code)\b"
    r"(?:\s*[:=]|\s+(?:is|was)\b:?)\s*[\"'`]?(?P<v>[^\s\"'`]{4,})"
)
_TOKEN_FORMATS = re.compile(
    r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|\bsk-[A-Za-z0-9_-]{20,}"  # OpenAI-style
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
    r"|\bgithub_pat_[A-Za-z0-9_]{30,}"
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
)
# A long run of letters and digits with upper case, lower case and digits mixed: a generated
# token, not a word or an order number.
_RANDOM_RUN = re.compile(r"(?<![\w/.-])[A-Za-z0-9_\-+/=]{24,}(?![\w/.-])")


def _looks_random(s: str) -> bool:
    return (
        any(c.isupper() for c in s)
        and any(c.islower() for c in s)
        and sum(c.isdigit() for c in s) >= 3
    )


def _secret_like(value: str) -> bool:
    """A value after "password is": a digit or a symbol in it, or mixed case. Plain words
    ("my PIN is locked", "password was reset") are what people say about secrets; an
    all-lower-case passphrase is missed (see docs/privacy.md)."""
    return (
        any(c.isdigit() for c in value)
        or any(not c.isalnum() for c in value)
        or (any(c.isupper() for c in value[1:]) and any(c.islower() for c in value))
    )


def secrets(text: str) -> Iterator[Span]:
    for m in _TOKEN_FORMATS.finditer(text):
        yield Span("SECRET", m.start(), m.end(), m.group(0))
    for m in _SECRET_AFTER_WORD.finditer(text):
        value = m.group("v").rstrip(".,;:!?)")
        if _secret_like(value):
            yield Span("SECRET", m.start("v"), m.start("v") + len(value), value)
    for m in _RANDOM_RUN.finditer(text):
        if _looks_random(m.group(0)):
            yield Span("SECRET", m.start(), m.end(), m.group(0))


# --- phone numbers (libphonenumber) -----------------------------------------------------------


def phones(region: str) -> Recognizer:
    """Numbers that libphonenumber holds valid (numbering plan, length) for ``region``'s
    national format, or any country's with a leading +. Imported here: the settings check
    (every process, the API included) reads this module for its type names only."""
    import phonenumbers

    def find(text: str) -> Iterator[Span]:
        matcher = phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.VALID, max_tries=200
        )
        for m in matcher:
            yield Span("PHONE", m.start, m.end, m.raw_string)

    return find


def pattern(kind: str, regex: str) -> Recognizer:
    """An operator's recognizer (another country's national id): every match is redacted."""
    compiled = re.compile(regex)

    def find(text: str) -> Iterator[Span]:
        for m in compiled.finditer(text):
            if m.end() > m.start():
                yield Span(kind, m.start(), m.end(), m.group(0))

    return find


# Entity types, in the order they win overlaps, and the name used in settings.
ENTITY_TYPES = ("secret", "card", "iban", "ssn", "email", "ip", "phone")
FIXED: dict[str, Recognizer] = {
    "secret": secrets,
    "card": cards,
    "iban": ibans,
    "ssn": ssns,
    "email": emails,
    "ip": ips,
}
