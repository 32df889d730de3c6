"""A real API served by uvicorn on a free loopback port, seeded with a realistic queue; shared by
the browser tests and the screenshot script (``python -m tests.browser.screenshots``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from shared.models import KbPassage, TicketMessage, utcnow
from tests.factories import make_result, make_ticket
from ticketflow.processes import free_port

# Debian's Chromium (scripts/install-chromium.sh); Playwright's own download cannot work here.
CHROMIUM = os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium")
API_KEY = "browser-test-key"  # TICKETFLOW_API_KEYS: intake only
REVIEWERS = ("ana", "bob")


@contextmanager
def serve(database_url: str, data_dir: Path, **settings: str) -> Iterator[str]:
    """``ticketflow api`` in its own process; yields its base URL, stops it on exit."""
    port = free_port()
    env = {
        **os.environ,
        "TICKETFLOW_DATABASE_URL": database_url,
        "TICKETFLOW_DATA_DIR": str(data_dir),
        "TICKETFLOW_API_KEYS": API_KEY,
        "TICKETFLOW_REDIS_URL": "memory://",
        "TICKETFLOW_RECOVERY_INTERVAL_S": "0",
        "TICKETFLOW_LOG_LEVEL": "WARNING",
        **{f"TICKETFLOW_{k.upper()}": v for k, v in settings.items()},
    }
    log = (data_dir / "api.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketflow.cli", "api", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "the API did not start: " + (data_dir / "api.log").read_text()[-2000:]
                )
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


PASSAGES = [
    (
        "refunds",
        "Refunds",
        "https://help.example.com/refunds",
        "Refunds reach your card within 5 business days of approval.",
    ),
    (
        "delivery",
        "Delivery times",
        "https://help.example.com/delivery",
        "Parcels ship within 2 days; tracking arrives by e-mail.",
    ),
]

QUEUE: list[dict[str, Any]] = [
    {
        "subject": "Charged twice for order 4411",
        "customer_name": "Ana Silva",
        "customer_email": "ana@example.com",
        "source": "email",
        "messages": [
            "Hi, my card was charged twice for order 4411. Please refund one of them.",
            "Any news? I can see both payments on my statement.",
        ],
        "result": {
            "category": "refund",
            "category_confidence": 0.91,
            "priority": "urgent",
            "sentiment": "negative",
        },
        "alternatives": {"category": [{"label": "billing", "confidence": 0.06}]},
        "cite": 0,
        "draft": "Hello Ana,\n\nSorry about the double charge. We refunded one payment; it "
        "reaches your card within 5 business days [1].\n\nThe Support Team",
    },
    {
        "subject": "Where is my parcel?",
        "customer_name": "Bo Chen",
        "customer_email": "bo@example.com",
        "messages": ["Ordered a week ago, nothing arrived. Tracking shows nothing."],
        "result": {"category": "delivery", "category_confidence": 0.74, "priority": "high"},
        "alternatives": {"category": [{"label": "refund", "confidence": 0.12}]},
        "cite": 1,
        "draft": "Hello Bo,\n\nParcels ship within 2 days and tracking arrives by e-mail [1]. "
        "We are checking yours.\n\nThe Support Team",
    },
    {
        "subject": "Change my address",
        "customer_name": "Cleo Martin",
        "customer_email": "cleo@example.com",
        "source": "api",
        "messages": ["Please change the delivery address on my account to 12 Rue Neuve, Lyon."],
        "result": {
            "category": "account",
            "category_confidence": 0.42,
            "needs_human_triage": True,
            "language": "en",
        },
        "draft": "Hello Cleo,\n\nA colleague will update your address and confirm by "
        "e-mail.\n\nThe Support Team",
    },
    {
        "subject": "WIN A FREE CRUISE",
        "customer_name": "Promo",
        "customer_email": "promo@spam.example",
        "messages": ["Click here to claim your prize!!!"],
        "result": {"category": "other", "category_confidence": 0.55, "priority": "low"},
        "draft": "Hello,\n\nThank you for your message.\n\nThe Support Team",
    },
    {
        "subject": "Gewinnspiel",
        "customer_name": "Spam Bot",
        "customer_email": "bot@spam.example",
        "messages": ["Sie haben gewonnen!"],
        "result": {
            "category": "other",
            "category_confidence": 0.5,
            "priority": "low",
            "language": "de",
        },
        "draft": "Hallo,\n\nDanke für Ihre Nachricht.\n\nDas Support-Team",
    },
]


def seed(session: Session, queue: list[dict[str, Any]] | None = None) -> list[int]:
    """Tickets awaiting review, each with its thread, a draft, labels, and help passages."""
    for doc_id, title, url, text in PASSAGES:
        session.add(KbPassage(doc_id=doc_id, title=title, url=url, text=text))
    session.commit()
    ids: list[int] = []
    now = utcnow()
    for i, spec in enumerate(queue or QUEUE):
        messages = spec["messages"]
        t = make_ticket(
            session,
            status="triaged",
            subject=spec["subject"],
            body="\n\n---\n\n".join(messages),
            customer_name=spec["customer_name"],
            customer_email=spec["customer_email"],
            source=spec.get("source", "email"),
            created_at=now - timedelta(hours=3 * (len(QUEUE) - i)),
        )
        for n, text in enumerate(messages):
            session.add(
                TicketMessage(
                    ticket_id=t.id or 0,
                    sender=spec["customer_email"],
                    subject=("Re: " if n else "") + spec["subject"],
                    body=text,
                    body_original=text,
                    attachments=(
                        [
                            {
                                "filename": "statement.pdf",
                                "content_type": "application/pdf",
                                "size": 48213,
                            }
                        ]
                        if n == 0 and "cite" in spec and spec["cite"] == 0
                        else []
                    ),
                )
            )
        session.commit()
        cites = []
        if "cite" in spec:
            doc_id, title, url, _ = PASSAGES[spec["cite"]]
            cites = [
                {"n": 1, "doc_id": doc_id, "chunk": 0, "title": title, "url": url, "cited": True}
            ]
        make_result(
            session,
            t.id,
            draft_reply=spec["draft"],
            alternatives=spec.get("alternatives", {}),
            citations=cites,
            prompt=[
                {"role": "system", "content": "You are a customer support agent."},
                {
                    "role": "user",
                    "content": f"<ticket>\n{spec['subject']}\n{messages[-1]}\n</ticket>",
                },
            ],
            **spec["result"],
        )
        ids.append(t.id or 0)
    return ids
