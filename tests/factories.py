"""Plain factory functions for test data."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from shared.models import Ticket


def make_ticket(session: Session, **overrides: Any) -> Ticket:
    fields: dict[str, Any] = {
        "source": "test",
        "subject": "Card charged twice",
        "body": "I was charged twice for my order 1234, please refund one of the payments.",
        "customer_email": "ana@example.com",
    }
    fields.update(overrides)
    ticket = Ticket(**fields)
    session.add(ticket)
    session.commit()
    session.refresh(ticket)
    return ticket
