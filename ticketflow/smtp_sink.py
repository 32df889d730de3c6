"""A local SMTP server that keeps what it receives: the demo's mailbox, and the tests' and the
benchmark's receiving end. aiosmtpd speaks real SMTP over TCP on loopback, in a thread of the
calling process."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ticketflow.processes import free_port


class SmtpSink:
    """Accepts every mail; refuses recipients in ``refuse`` (550). ``stop``/``start`` take
    the server down and up on the same port. With ``login`` it requires SMTP AUTH (PLAIN or
    LOGIN) with that user and password, also without TLS (loopback only)."""

    def __init__(
        self,
        port: int | None = None,
        login: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        starttls: bool = False,
    ) -> None:
        """``tls``: the server's context; TLS from the first byte (smtps), or after STARTTLS
        (required then) with ``starttls``."""
        self.port = port or free_port()
        self.login = login
        self.tls = tls
        self.starttls = starttls
        self.received: list[bytes] = []
        self.refuse: set[str] = set()
        self.delay_s = 0.0  # per message, so that a test can stop a sender mid-batch
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        with self._lock:
            self.received.append(content)
        return "250 Message accepted for delivery"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.login is not None
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == self.login
        )
        return AuthResult(success=ok, handled=False)

    @property
    def url(self) -> str:
        if self.tls is not None and not self.starttls:
            return f"smtps://127.0.0.1:{self.port}"
        return f"smtp://127.0.0.1:{self.port}" + ("?starttls=true" if self.starttls else "")

    def start(self) -> SmtpSink:
        auth: dict[str, Any] = {}
        if self.login is not None:
            auth = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        if self.tls is not None and self.starttls:
            auth.update(tls_context=self.tls, require_starttls=True)
        elif self.tls is not None:
            auth.update(ssl_context=self.tls)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mails(self) -> list[EmailMessage]:
        with self._lock:
            raw = list(self.received)
        return [message_from_bytes(r, policy=policy.default) for r in raw]

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.mails()
