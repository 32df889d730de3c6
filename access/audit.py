"""The audit trail: who logged in, viewed, claimed or decided what, and when.

Events are rows in ``audit_event``, written in the caller's transaction where there is one
(a decision and its event commit together). ``detail`` holds ids and outcomes, never ticket
text or a secret.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from shared.models import AuditEvent

ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "view",
    "claim",
    "decide",
    "undo",
    "key_created",
    "key_revoked",
    "user_added",
    "user_disabled",
    "user_enabled",
    "password_reset",
)


def record(
    session: Session,
    actor_kind: str,
    actor_name: str,
    action: str,
    ticket_id: int | None = None,
    detail: dict[str, Any] | None = None,
    commit: bool = False,
) -> AuditEvent:
    """Add one event to ``session``; ``commit`` for events that stand alone (a login)."""
    event = AuditEvent(
        actor_kind=actor_kind,
        actor_name=actor_name[:200],
        action=action,
        ticket_id=ticket_id,
        detail=detail or {},
    )
    session.add(event)
    if commit:
        session.commit()
    return event


def list_events(
    session: Session,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
    actor: str | None = None,
    ticket_id: int | None = None,
) -> list[AuditEvent]:
    """Newest first; pass the last id of a page as ``before_id`` for the next one."""
    query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if actor is not None:
        query = query.where(AuditEvent.actor_name == actor)
    if ticket_id is not None:
        query = query.where(AuditEvent.ticket_id == ticket_id)
    return list(session.exec(query).all())
