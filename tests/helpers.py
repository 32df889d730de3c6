"""Test doubles for what crosses a process edge, and small file helpers."""

from __future__ import annotations

import re
import threading
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient

from shared.errors import TransientError


class RecordingPublisher:
    """Records what would be published. ``fail`` simulates Redis being down; ``fail_after``
    simulates it going away after that many messages. ``wait_for`` waits for a background
    relay to have sent that many."""

    def __init__(self, fail: bool = False, fail_after: int | None = None) -> None:
        self.sent: list[tuple[int, int, str]] = []
        self.fail_after = 0 if fail else fail_after
        self._changed = threading.Condition()

    def send(self, ticket_id: int, revision: int, queue: str, claimed_at: datetime) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise TransientError("could not reach the queue: connection refused")
        with self._changed:
            self.sent.append((ticket_id, revision, queue))
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[int, int, str]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.sent) >= count, timeout)
            return list(self.sent)


class FlakyPublisher(RecordingPublisher):
    """Down until ``up`` is set, like Redis during a restart; counts refused sends."""

    def __init__(self) -> None:
        super().__init__()
        self.up = False
        self.refused = 0

    def send(self, ticket_id: int, revision: int, queue: str, claimed_at: datetime) -> None:
        if not self.up:
            self.refused += 1
            raise TransientError("could not reach the queue: connection refused")
        super().send(ticket_id, revision, queue, claimed_at)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """A file in ``tmp_path``: text as UTF-8, bytes as they are."""
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def log_in(client: TestClient, username: str, password: str, next_url: str = "/ui") -> str:
    """Log in through the form as a browser does (login CSRF token from the page, cookie
    kept by the client); returns the session's CSRF token for writes."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text
    form = {"username": username, "password": password, "csrf_token": token.group(1)}
    r = client.post("/login", data={**form, "next": next_url}, follow_redirects=False)
    assert r.status_code == 303, r.text
    csrf: str = client.get("/session").json()["csrf_token"]
    return csrf
