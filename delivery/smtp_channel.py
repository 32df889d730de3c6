"""Sending one email over SMTP: smtp:// (optionally STARTTLS), smtps://, with AUTH.

Errors are sorted for the caller: a 5xx answer (recipient refused, message rejected) is a
``PermanentError``; a 4xx answer, a refused or dropped connection or a timeout is a
``TransientError`` (retry with backoff). Each sending thread keeps its own connection open
between messages; one idle for a while is checked with NOOP first and replaced if the server
dropped it. TLS certificates are always verified (``TICKETFLOW_SMTP_CA_FILE`` for a private CA).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from shared.errors import PermanentError, TransientError

TRUE = ("1", "true", "yes", "on")
IDLE_CHECK_S = 10.0  # a kept connection idle this long is checked (NOOP) before a send


class SmtpChannel:
    def __init__(
        self,
        url: str,
        timeout_s: float,
        ca_file: Path | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.ca_file = ca_file
        self.local_hostname = local_hostname
        self._local = threading.local()
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.tls else 25)
        self.starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower() in TRUE
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context(cafile=self.ca_file)
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, self.local_hostname, timeout=self.timeout_s, context=context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, self.local_hostname, timeout=self.timeout_s)
        try:
            if self.starttls:
                smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _connection(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP | None = getattr(self._local, "smtp", None)
        idle = time.monotonic() - getattr(self._local, "used", 0.0)
        if smtp is not None and idle > IDLE_CHECK_S:
            try:
                smtp.noop()
            except (smtplib.SMTPException, OSError):
                self.close()
                smtp = None
        if smtp is None:
            smtp = self._local.smtp = self._connect()
        self._local.used = time.monotonic()
        return smtp

    def close(self) -> None:
        smtp = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def send(self, mail: EmailMessage, sender: str, recipient: str) -> None:
        """Send one message; raises ``PermanentError`` or ``TransientError``."""
        try:
            refused = self._connection().send_message(mail, sender, [recipient])
        except smtplib.SMTPRecipientsRefused as err:
            code, text = next(iter(err.recipients.values()), (0, b""))
            raise _by_code(code, text, "recipient refused") from None
        except smtplib.SMTPAuthenticationError as err:
            self.close()
            raise TransientError(
                f"SMTP login refused ({err.smtp_code}): check the SMTP URL"
            ) from None
        except smtplib.SMTPResponseException as err:
            self._reset()
            raise _by_code(err.smtp_code, err.smtp_error, "message refused") from None
        except smtplib.SMTPNotSupportedError as err:
            self.close()
            raise PermanentError(f"SMTP server does not support this: {err}") from None
        except ssl.SSLCertVerificationError as err:
            self.close()
            raise TransientError(
                f"SMTP server certificate not trusted ({err.verify_message}): check "
                "TICKETFLOW_SMTP_CA_FILE"
            ) from None
        except (smtplib.SMTPException, OSError) as err:  # refused, dropped, timed out, TLS
            self.close()
            raise TransientError(f"SMTP server unreachable: {type(err).__name__}: {err}") from None
        if refused:
            code, text = next(iter(refused.values()))
            raise _by_code(code, text, "recipient refused")

    def _reset(self) -> None:
        smtp = getattr(self._local, "smtp", None)
        try:
            if smtp is not None:
                smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()


def _by_code(code: int, text: bytes | str, what: str) -> PermanentError | TransientError:
    message = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    reason = f"{what}: {code} {' '.join(message.split())}"[:500]
    return PermanentError(reason) if 500 <= code < 600 else TransientError(reason)
