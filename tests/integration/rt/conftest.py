"""One real Request Tracker 5 for the session, and the loopback endpoint its scrip posts to.

RT is set up once (about 10 s) and shared; each test makes its own tickets. The scrip's URL is
fixed in RT's config when RT starts, but each test has its own ticketflow stack, so the scrip
posts to a small relay (``Relay``) that records every request and hands it to the current
test's ticketflow (``relay.forward``): the raw body and headers reach the real route unchanged.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.rt.rt_server import RTServer, remove, rt_installed, start_rt

# serve_forever's poll interval: shutdown() waits up to one (0.5 s by default) at every stop.
POLL_S = 0.02
WEBHOOK_SECRET = "rt-webhook-secret-for-tests"
pytestmark = pytest.mark.integration


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


# (path, lower-cased headers, raw body) -> the HTTP status to answer RT with
Forward = Callable[[str, dict[str, str], bytes], int]


class Relay:
    """What RT's scrip reaches: records each POST, answers with ``forward``'s status."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.forward: Forward = lambda path, headers, body: 202
        self._cond = threading.Condition()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = relay.forward(self.path, headers, body)
                with relay._cond:
                    relay.deliveries.append(Delivery(self.path, headers, body, status))
                    relay._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/integrations/rt/events"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True
        ).start()

    def wait(self, pred: Callable[[list[Delivery]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self.deliveries):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"RT's scrip did not post as expected: {self.deliveries}")
                self._cond.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def relay() -> Iterator[Relay]:
    r = Relay()
    yield r
    r.close()


@pytest.fixture(scope="session")
def rt(relay: Relay) -> Iterator[RTServer]:
    if not rt_installed():
        pytest.fail(
            "Request Tracker 5 is needed for the RT connector tests: run "
            "`sudo scripts/install-rt.sh` (Debian's request-tracker5, rt5-standalone, "
            "rt5-db-sqlite) or `make system-deps`, and retry."
        )
    root = Path(tempfile.mkdtemp(prefix="ticketflow-rt-"))
    started = time.monotonic()
    server = start_rt(root, relay.url, WEBHOOK_SECRET)
    print(f"\nRT 5 set up and serving in {time.monotonic() - started:.1f}s at {server.url}")
    yield server
    remove(server)


@pytest.fixture
def fresh_relay(relay: Relay) -> Iterator[Relay]:
    """The session relay, emptied, answering 202 unless the test forwards elsewhere."""
    relay.deliveries.clear()
    relay.forward = lambda path, headers, body: 202
    yield relay
    relay.forward = lambda path, headers, body: 202
