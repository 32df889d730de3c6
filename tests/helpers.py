"""Test doubles for what crosses a process edge."""

from __future__ import annotations

from shared.errors import TransientError


class RecordingEnqueuer:
    """Records what would be published; ``fail`` simulates Redis being down."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[int, int, str]] = []
        self.fail = fail

    def send(self, ticket_id: int, revision: int, queue: str) -> None:
        if self.fail:
            raise TransientError("redis down (simulated)")
        self.sent.append((ticket_id, revision, queue))
