"""Spot mail written by machines: auto-replies, bulk mail and bounces.

Answering an out-of-office with a drafted reply starts a mail loop, and a bounce is not a
customer request, so these are skipped with a reason instead of becoming tickets. The header
checks follow RFC 3834 (Auto-Submitted) and the de facto ones mailers still send.
"""

from __future__ import annotations

from producer.email.parse import ParsedEmail

_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_DAEMON_LOCALPARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "maildaemon"})
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-reply", "x-autoresponder")
_REPORT_TYPES = frozenset({"message/delivery-status", "message/disposition-notification"})


def automated_reason(mail: ParsedEmail) -> str | None:
    """Why this mail should be skipped, or None for mail a person wrote."""
    h = mail.headers
    sender = (mail.sender_email or "").lower()
    if sender.split("@")[0] in _DAEMON_LOCALPARTS:
        return f"bounce (from {sender})"
    content_type = h.get("content-type", "").lower().replace('"', "").replace(" ", "")
    report = _REPORT_TYPES.intersection(mail.part_types)
    if report or "report-type=delivery-status" in content_type:
        return f"bounce or receipt ({', '.join(sorted(report)) or 'delivery-status report'})"
    if h.get("x-failed-recipients"):
        return "bounce (X-Failed-Recipients header)"
    auto_submitted = h.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"auto-reply (Auto-Submitted: {auto_submitted})"
    for name in _AUTOREPLY_HEADERS:
        if h.get(name):
            return f"auto-reply ({name} header)"
    precedence = h.get("precedence", "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"bulk mail (Precedence: {precedence})"
    return None
