"""A small deterministic engine for unit and wiring tests: keyword rules, canned drafts.

It implements the same interface as the real engine so queue, batching and database code can
be tested without loading models. The real engine has its own tests on tiny and bundled models.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Sequence

from worker.engine.base import ChatMessages, Classification, EngineInfo, Label

RULES = [
    ("refund", "refund_cancellation"),
    ("cancel", "refund_cancellation"),
    ("charged", "billing"),
    ("invoice", "billing"),
    ("password", "account_access"),
    ("log in", "account_access"),
    ("login", "account_access"),
    ("parcel", "shipping_delivery"),
    ("delivery", "shipping_delivery"),
    ("error", "technical_issue"),
    ("crash", "technical_issue"),
]
FAIL_MARKER = "[[fake-engine-fail]]"


class FakeEngine:
    def __init__(self) -> None:
        self.info = EngineInfo("fake-classifier", "fake-1", "fake-drafter", "cpu", uuid.uuid4().hex)
        self.batches: list[int] = []

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        self.batches.append(len(texts))
        out = []
        for text in texts:
            if FAIL_MARKER in text:
                raise ValueError("fake engine asked to fail on this ticket")
            low = text.lower()
            category = next((c for k, c in RULES if k in low), "other")
            angry = "!" in text or "angry" in low or "unacceptable" in low
            out.append(
                Classification(
                    category=Label(category, 0.9 if category != "other" else 0.4),
                    priority=Label("high" if angry else "normal", 0.7),
                    sentiment=Label("negative" if angry else "neutral", 0.8),
                    language=Label("en", 0.99),
                    alternatives={"category": [Label("other", 0.05)]},
                )
            )
        return out

    def draft(self, chats: Sequence[ChatMessages]) -> list[str]:
        replies = []
        for chat in chats:
            begun = chat[-1]["content"] if chat[-1]["role"] == "assistant" else ""
            request = next(m["content"] for m in reversed(chat) if m["role"] == "user")
            digest = hashlib.sha1(request.encode()).hexdigest()[:8]
            reply = f"We are looking into it (ref {digest})."
            replies.append(f"{begun} {reply}" if begun else f"Thank you. {reply}")
        return replies

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t) % 7), 1.0] for t in texts]

    def warm_up(self) -> None:
        self.classify(["warm-up"])


class StallingFakeEngine(FakeEngine):
    """Classifies like ``FakeEngine`` but its drafting never returns: what a wedged GPU driver
    looks like from Python. Lets tests (and operators) rehearse the worker's stall watchdog."""

    def draft(self, chats: Sequence[ChatMessages]) -> list[str]:
        threading.Event().wait()
        raise AssertionError("unreachable")
