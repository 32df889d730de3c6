from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session

from review.service import submit_review
from shared.config import Settings
from shared.models import ReviewCreate, Ticket, TicketStatus
from tests.delivery.servers import SmtpSink, WebhookReceiver
from tests.factories import make_result, make_ticket

SECRET = "whsec-test"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver(SECRET).start()
    yield r
    r.stop()


@pytest.fixture
def dsettings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    """Delivery settings: the sink as SMTP server, no hold time, fast retries."""
    return settings.model_copy(
        update={
            "smtp_url": type(settings.smtp_url)(smtp_sink.url),
            "support_address": "help@shop.example",
            "support_name": "Shop Support",
            "delivery_hold_s": 0.0,
            "delivery_backoff_s": 0.01,
            "delivery_max_backoff_s": 0.05,
            "delivery_max_attempts": 3,
        }
    )


def approved(
    session: Session, settings: Settings, decision: str = "approve", **ticket: Any
) -> Ticket:
    """A triaged ticket, reviewed with ``decision`` through the review service."""
    t = make_ticket(session, status=TicketStatus.triaged, **ticket)
    make_result(session, t.id, draft_reply="Your refund is on its way.")
    extra = {"edited_reply": "Edited: refund sent."} if decision == "edit" else {}
    data = ReviewCreate(decision=decision, reviewer="sam", revision=1, **extra)  # type: ignore[arg-type]
    assert t.id is not None
    submit_review(session, t.id, data, {}, settings)
    session.refresh(t)
    return t


from tests.producer.conftest import client, fake_redis, publisher  # noqa: E402

__all__ = ["client", "fake_redis", "publisher"]
