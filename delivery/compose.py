"""The email a reply is sent as: headers, threading, plain-text body.

Everything that depends on the ticket was decided when the reply was written to the outbox
(``review.outbox.reply_fields``), so every attempt sends the same message with the same
Message-ID; only the From header is built at send time. Header values are one line: a subject
or name holding CR/LF is folded to spaces, never allowed to add a header.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from review.outbox import one_line
from shared.errors import PermanentError
from shared.models import OutboundMessage

ADDRESS = re.compile(r"[^@\s<>()\[\]\\,;:\"]+@[^@\s<>()\[\]\\,;:\"]+\.[^@\s<>()\[\]\\,;:\"]+")


def check_recipient(address: str | None) -> str:
    """The customer's address, or a ``PermanentError`` saying why there is none to send to."""
    if not address or not address.strip():
        raise PermanentError("the ticket has no customer email address to reply to")
    if not ADDRESS.fullmatch(address.strip()):
        raise PermanentError(f"the customer address {address[:200]!r} is not a valid address")
    return address.strip()


def build_email(
    message: OutboundMessage,
    customer_name: str | None,
    support_address: str,
    support_name: str,
) -> EmailMessage:
    """The message to send: plain text, threaded, with the fixed Message-ID."""
    if not support_address:
        raise PermanentError("TICKETFLOW_SUPPORT_ADDRESS is not set: no From address")
    to = check_recipient(message.recipient)
    mail = EmailMessage()
    mail["From"] = formataddr((one_line(support_name), support_address))
    mail["To"] = formataddr((one_line(customer_name), to))
    mail["Subject"] = one_line(message.subject)
    # The approval's time, not the attempt's: a re-sent copy is byte-for-byte the same.
    mail["Date"] = format_datetime(_as_utc(message.created_at), usegmt=True)
    mail["Message-ID"] = message.remote_id
    if message.in_reply_to:
        mail["In-Reply-To"] = message.in_reply_to
    if message.reference_ids:
        mail["References"] = message.reference_ids
    mail.set_content(message.body)
    return mail


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
