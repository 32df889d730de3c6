"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", sent with the timestamp.

Header ``Ticketflow-Signature: t=<unix seconds>,v1=<hex digest>``. A receiver recomputes the
digest with the shared secret, compares in constant time, and refuses a timestamp outside its
replay window (``verify`` does all three; a receiver in another language follows the same
three steps).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Ticketflow-Signature"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def sign(secret: str, body: bytes, now: float | None = None) -> str:
    """The header value for this body, signed now."""
    ts = int(time.time() if now is None else now)
    return f"t={ts},v1={signature(secret, ts, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when the header signs this body with this secret within the replay window."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, ts, body))
