"""Plain factory functions for test data."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import Session

from shared.models import ApiKey, Role, Ticket, TriageResult, User


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


def make_api_key(session: Session, raw: str, scopes: list[str], name: str = "test") -> ApiKey:
    """A scoped key whose secret the test knows (``tf_<prefix>_<secret>``, as the CLI makes)."""
    _, prefix, _ = raw.split("_", 2)
    row = ApiKey(
        name=name,
        prefix=prefix,
        secret_hash=hashlib.sha256(raw.encode()).hexdigest(),
        scopes=scopes,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


PASSWORD = "correct horse battery staple"


def make_user(
    session: Session, username: str = "ana", role: str = "reviewer", password: str = PASSWORD
) -> User:
    """A user through the same code as ``ticketflow users add`` (argon2 hash and all)."""
    from access.users import add_user

    return add_user(session, username, password, Role(role))
