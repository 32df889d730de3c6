"""Real servers on loopback for the delivery tests: an SMTP server (aiosmtpd, the demo's own
sink) and an HTTP webhook receiver that checks signatures. Both run in a thread of the test
process and are reached over real TCP connections, like any remote server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from delivery.signing import SIGNATURE_HEADER, verify
from ticketflow.smtp_sink import SmtpSink

# serve_forever's poll interval: shutdown() waits up to one (0.5 s by default) at every stop.
POLL_S = 0.02

__all__ = ["SmtpSink", "WebhookReceiver"]


class WebhookReceiver:
    """An HTTP server that records each POST, whether its signature verified, and answers
    with ``answer(n)`` for the n-th request (200 by default)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.requests: list[dict[str, Any]] = []
        self.answer: Callable[[int], int] = lambda n: 200
        self.delay_s = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                n = len(receiver.requests)
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(body),
                        "verified": verify(
                            receiver.secret, self.headers.get(SIGNATURE_HEADER, ""), body
                        ),
                    }
                )
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                code = receiver.answer(n)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True
        )

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
