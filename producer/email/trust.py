"""Whether a mail's ``From`` can be believed: the receiving server's word, or the operator's.

Anyone can write ``From: victim@example.com``. The mail server that received the message
checked DKIM, SPF and DMARC and wrote its verdict into an ``Authentication-Results`` header
(RFC 8601) under its own name, the authserv-id. We believe the sender only when

- a header from one of the configured authserv-ids (``TICKETFLOW_EMAIL_TRUSTED_AUTHSERV_IDS``)
  says ``dkim=pass`` for a signing domain (``header.d``/``header.i``), ``spf=pass`` for an
  envelope domain (``smtp.mailfrom``) or ``dmarc=pass`` for a ``header.from``, aligned with the
  ``From`` domain (equal, or one a subdomain of the other: DMARC's relaxed alignment, without a
  public-suffix list, so a bare top-level domain never aligns), or
- the operator marked the whole source trusted (``--trust-senders`` /
  ``TICKETFLOW_EMAIL_TRUST_SENDERS``: an internal relay that already authenticated senders).

Only the topmost header from a trusted authserv-id counts: the receiving server prepends its
own, while one a sender forged under the same name arrives below it (RFC 8601 section 5 asks
servers to remove those; we do not rely on it). Untrusted mail still becomes a ticket; what it
loses is history in the prompt and threading into someone else's conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from producer.email.parse import ParsedEmail

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)\b(.*)$", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r"([a-z0-9_-]+\.[a-z0-9_-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)", re.IGNORECASE)
# Which property names the domain each method vouches for.
_DOMAIN_OF = {
    "dkim": ("header.d", "header.i"),
    "spf": ("smtp.mailfrom",),
    "dmarc": ("header.from",),
}


def _domain(value: str) -> str:
    value = value.strip().strip('"').lower().rstrip(".")
    return value.rsplit("@", 1)[-1]


def aligned(a: str, b: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other (never a TLD)."""
    a, b = _domain(a), _domain(b)
    if not a or not b:
        return False
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    return "." in shorter and longer.endswith("." + shorter)


def passing_domains(header: str) -> tuple[str, list[str]]:
    """The authserv-id of one Authentication-Results value and the domains it says passed."""
    text = _COMMENT.sub(" ", header)
    head, _, rest = text.partition(";")
    authserv = (head.split() or [""])[0].lower()
    domains: list[str] = []
    for resinfo in rest.split(";"):
        m = _RESULT.match(resinfo)
        if not m or m.group(2).lower() != "pass":
            continue
        props = {k.lower(): v for k, v in _PROPERTY.findall(m.group(3))}
        for name in _DOMAIN_OF.get(m.group(1).lower(), ()):
            if props.get(name):
                domains.append(_domain(props[name]))
    return authserv, domains


@dataclass(frozen=True)
class SenderTrust:
    """The operator's trust settings for one ingestion run."""

    authserv_ids: frozenset[str] = frozenset()
    trust_all: bool = False

    @classmethod
    def of(cls, authserv_ids: Iterable[str], trust_all: bool = False) -> SenderTrust:
        ids = frozenset(i.strip().lower() for i in authserv_ids if i.strip())
        return cls(ids, trust_all)

    def verified(self, mail: ParsedEmail) -> bool:
        if self.trust_all:
            return True
        sender = mail.sender_email or ""
        if "@" not in sender or not self.authserv_ids:
            return False
        for header in mail.auth_results:  # topmost first
            authserv, domains = passing_domains(header)
            if authserv in self.authserv_ids:
                return any(aligned(d, sender) for d in domains)
        return False
