"""Everything a reviewer reads before deciding one ticket: the thread message by message, its
attachments, the customer's earlier tickets, each label with its runner-ups, and the help
passages the draft was given (with their text), looked up for the workspace's ticket view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from review.queries import to_public
from shared.errors import NotFoundError
from shared.models import (
    KbPassage,
    Review,
    Ticket,
    TicketMessage,
    TicketPublic,
    TicketStatus,
    TriageResult,
)

HISTORY = 10  # earlier tickets shown


class Attachment(BaseModel):
    filename: str
    content_type: str = ""
    size: int = 0


class ThreadMessage(BaseModel):
    sender: str | None
    subject: str
    body: str
    received_at: datetime | None
    attachments: list[Attachment]


class EarlierTicket(BaseModel):
    id: int
    subject: str
    status: TicketStatus
    created_at: datetime
    category: str | None
    decision: str | None


class Alternative(BaseModel):
    label: str
    confidence: float


class LabelView(BaseModel):
    field: str
    value: str
    confidence: float
    runner_ups: list[Alternative]


class Passage(BaseModel):
    n: int
    title: str
    url: str | None
    text: str | None  # None: the passage was re-imported or removed since the draft
    cited: bool


class TicketDetail(BaseModel):
    ticket: TicketPublic
    messages: list[ThreadMessage]
    earlier: list[EarlierTicket]
    labels: list[LabelView]
    passages: list[Passage]
    has_prompt: bool


def _messages(session: Session, ticket: Ticket) -> list[ThreadMessage]:
    rows = session.exec(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id)
        .order_by(
            func.coalesce(col(TicketMessage.received_at), col(TicketMessage.created_at)),
            col(TicketMessage.id),
        )
    ).all()
    if not rows:  # API and backfill tickets: the body is the one message
        return [
            ThreadMessage(
                sender=ticket.customer_email,
                subject=ticket.subject,
                body=ticket.body,
                received_at=ticket.received_at or ticket.created_at,
                attachments=[],
            )
        ]
    return [
        ThreadMessage(
            sender=m.sender,
            subject=m.subject,
            body=m.body,
            received_at=m.received_at or m.created_at,
            attachments=[Attachment.model_validate(a) for a in m.attachments or []],
        )
        for m in rows
    ]


def _earlier(session: Session, ticket: Ticket) -> list[EarlierTicket]:
    if not ticket.customer_email:
        return []
    rows = session.exec(
        select(Ticket)
        .where(Ticket.customer_email == ticket.customer_email, col(Ticket.id) != ticket.id)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(HISTORY)
    ).all()
    ids = [t.id for t in rows]
    category = {
        r.ticket_id: r.category
        for r in session.exec(
            select(TriageResult)
            .where(col(TriageResult.ticket_id).in_(ids))
            .order_by(col(TriageResult.revision))
        )
    }
    decision = {
        r.ticket_id: r.decision.value
        for r in session.exec(
            select(Review).where(col(Review.ticket_id).in_(ids)).order_by(col(Review.id))
        )
    }
    return [
        EarlierTicket(
            id=t.id or 0,
            subject=t.subject,
            status=t.status,
            created_at=t.created_at,
            category=category.get(t.id or 0),
            decision=decision.get(t.id or 0),
        )
        for t in rows
    ]


def _labels(result: TriageResult) -> list[LabelView]:
    alts: dict[str, Any] = result.alternatives or {}
    return [
        LabelView(
            field=f,
            value=getattr(result, f),
            confidence=getattr(result, f"{f}_confidence"),
            runner_ups=[Alternative.model_validate(a) for a in alts.get(f, [])],
        )
        for f in ("category", "priority", "sentiment", "language")
    ]


def _passages(session: Session, result: TriageResult) -> list[Passage]:
    cites = [c for c in result.citations or [] if isinstance(c, dict)]
    keys = {(c.get("doc_id"), c.get("chunk")) for c in cites}
    docs = {k[0] for k in keys if k[0]}
    texts: dict[tuple[Any, Any], str] = {
        (p.doc_id, p.chunk): p.text
        for p in session.exec(select(KbPassage).where(col(KbPassage.doc_id).in_(docs)))
    }
    return [
        Passage(
            n=int(c.get("n", 0)),
            title=str(c.get("title") or c.get("doc_id") or ""),
            url=c.get("url"),
            text=texts.get((c.get("doc_id"), c.get("chunk"))),
            cited=bool(c.get("cited")),
        )
        for c in cites
    ]


def current_result(session: Session, ticket: Ticket) -> TriageResult | None:
    return session.exec(
        select(TriageResult)
        .where(TriageResult.ticket_id == ticket.id)
        .order_by(col(TriageResult.revision).desc())
    ).first()


def ticket_detail(session: Session, ticket_id: int) -> TicketDetail:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFoundError(f"ticket {ticket_id} not found")
    result = current_result(session, ticket)
    return TicketDetail(
        ticket=to_public(session, ticket),
        messages=_messages(session, ticket),
        earlier=_earlier(session, ticket),
        labels=_labels(result) if result else [],
        passages=_passages(session, result) if result else [],
        has_prompt=bool(result and result.prompt),
    )


def draft_prompt(session: Session, ticket_id: int) -> list[dict[str, str]]:
    """The chat the draft model was given for the ticket's newest result; 404 when none was
    kept (a result stored before prompts were kept, or a canned reply)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFoundError(f"ticket {ticket_id} not found")
    result = current_result(session, ticket)
    if result is None or not result.prompt:
        raise NotFoundError(f"no prompt was kept for ticket {ticket_id}'s draft")
    return [
        {"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
        for m in result.prompt
        if isinstance(m, dict)
    ]
