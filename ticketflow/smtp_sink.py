"""A local SMTP server that keeps what it receives: the demo's mailbox, and the tests' and the
benchmark's receiving end. aiosmtpd speaks real SMTP over TCP on loopback, in a thread of the
calling process."""

from __future__ import annotations

import asyncio
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ticketflow.processes import free_port


class SmtpSink:
    """Accepts every mail; refuses recipients in ``refuse`` (550). ``stop``/``start`` take
    the server down and up on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
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

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
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
