"""Write-backs to helpdesks, staged in the transaction that stores a triage result.

In ``shared/`` because the worker writes them (``worker.pipeline.ticket_state.store``) next to
its result, exactly like webhook events: the result and its write-backs commit together, so
none is lost and none is invented, and the worker never speaks HTTP. ``ticketflow deliver``
sends them (``delivery.connector_send``) with the outbox's retries and leases.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from shared.connector_config import connector_of
from shared.models import ConnectorWrite, Ticket, TriageResult, utcnow

KINDS = ("triage", "draft")


def write_key(connector: str, ticket_ref: str, kind: str, revision: int) -> str:
    """The idempotency key of one write: the same on every attempt, unique per revision."""
    return f"{connector}:{ticket_ref}:{kind}:rev-{revision}"[:200]


def add_triage_writes(
    session: Session, ticket: Ticket, result: TriageResult
) -> list[ConnectorWrite]:
    """Stage the labels and the draft of ``result`` for the helpdesk the ticket came from;
    nothing for tickets of other channels. The caller commits."""
    name = connector_of(ticket.source)
    if name is None or ticket.id is None or not ticket.external_id:
        return []
    labels = {
        "category": result.category,
        "priority": result.priority,
        "sentiment": result.sentiment,
        "language": result.language,
        "needs_human_triage": result.needs_human_triage,
    }
    warnings = [str(w.get("message", w.get("code", ""))) for w in result.warnings or []]
    payloads: dict[str, dict[str, Any]] = {
        "triage": {"ticket_ref": ticket.external_id, "labels": labels},
        "draft": {
            "ticket_ref": ticket.external_id,
            "text": result.draft_reply,
            "warnings": warnings,
        },
    }
    now = utcnow()
    rows = [
        ConnectorWrite(
            connector=name,
            ticket_id=ticket.id,
            revision=result.revision,
            kind=kind,
            idempotency_key=write_key(name, ticket.external_id, kind, result.revision),
            payload=payload,
            send_after=now,
        )
        for kind, payload in payloads.items()
        if kind != "draft" or result.draft_reply.strip()
    ]
    session.add_all(rows)
    return rows
