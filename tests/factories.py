"""Plain factory functions for test data."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from shared.models import Ticket, TriageResult


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


def make_result(session: Session, ticket_id: int | None, **overrides: Any) -> TriageResult:
    """A stored triage result; only the fields a test cares about need to be given."""
    assert ticket_id is not None
    fields: dict[str, Any] = {
        "ticket_id": ticket_id,
        "revision": 1,
        "category": "other",
        "category_confidence": 0.6,
        "priority": "normal",
        "priority_confidence": 0.6,
        "sentiment": "neutral",
        "sentiment_confidence": 0.6,
        "language": "en",
        "language_confidence": 0.9,
        "draft_reply": "...",
        "classifier_model": "m",
        "classifier_version": "zero-shot",
        "draft_model": "d",
        "engine_instance": "e",
        "worker": "w",
    }
    fields.update(overrides)
    result = TriageResult(**fields)
    session.add(result)
    session.commit()
    session.refresh(result)
    return result


def make_triaged(session: Session, result: dict[str, Any] | None = None, **ticket: Any) -> Ticket:
    """A ticket awaiting review: status ``triaged`` with a result for its revision."""
    t = make_ticket(session, status="triaged", **ticket)
    make_result(session, t.id, revision=t.revision, **(result or {}))
    return t
