"""Webhook events: one ``webhook_delivery`` row per event and endpoint, written in the same
transaction as the change it reports, so an event is never lost nor invented. In ``shared/``
because every stage writes them (the worker ``ticket.triaged``, review ``ticket.reviewed``,
delivery the ``reply.*`` events); ``ticketflow deliver`` sends them.

Events: ``ticket.triaged``, ``ticket.reviewed``, ``reply.sent``, ``reply.failed``. The
payload is ``{"id", "event", "created_at", "data"}``; ``id`` is the same for every endpoint,
each endpoint's row has its own delivery id (the Idempotency-Key it receives on each try).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from shared.models import WebhookDelivery, utcnow

EVENTS = ("ticket.triaged", "ticket.reviewed", "reply.sent", "reply.failed")


def add_event(
    session: Session,
    urls: Sequence[str],
    event: str,
    ticket_id: int | None,
    data: dict[str, Any],
) -> list[WebhookDelivery]:
    """Stage the event for every endpoint in ``session`` (the caller commits)."""
    assert event in EVENTS, event
    if not urls:
        return []
    now = utcnow()
    payload = {
        "id": uuid.uuid4().hex,
        "event": event,
        "created_at": now.isoformat(),
        "data": {"ticket_id": ticket_id, **data},
    }
    rows = [
        WebhookDelivery(
            event=event,
            ticket_id=ticket_id,
            url=url,
            delivery_id=uuid.uuid4().hex,
            payload=payload,
            send_after=now,
        )
        for url in urls
    ]
    session.add_all(rows)
    return rows
