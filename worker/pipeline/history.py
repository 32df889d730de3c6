"""The customer's earlier tickets, summarised for the draft prompt.

A reply that knows "this is the third time about the same parcel" reads very differently; a
few one-line summaries are enough and keep the prompt short. "Earlier" uses the time the
customer wrote (``received_at``, set by backfills and e-mail) and falls back to ``created_at``.
"""

from __future__ import annotations

import re

from sqlmodel import Session, col, func, select

from shared.models import Review, Ticket, TriageResult
from worker.drafting.prompting import PastTicket

MAX_HISTORY = 3
LINE_CHARS = 160
_GREETING = re.compile(r"^\S+(\s+\S+){0,3}\s*[,!:]$")  # "Hi team," "Hello!" "Dear Support:"


def first_line(body: str, width: int = LINE_CHARS) -> str:
    """The first line that says something (greetings skipped), cut to ``width``."""
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    line = next((ln for ln in lines if not _GREETING.match(ln)), lines[0] if lines else "")
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def load_history(session: Session, ticket: Ticket, limit: int = MAX_HISTORY) -> list[PastTicket]:
    """Up to ``limit`` earlier tickets of the same customer e-mail, most recent first."""
    if not ticket.customer_email or ticket.id is None:
        return []
    written = func.coalesce(col(Ticket.received_at), col(Ticket.created_at))
    pivot = ticket.received_at or ticket.created_at
    earlier = session.exec(
        select(Ticket)
        .where(
            Ticket.customer_email == ticket.customer_email,
            col(Ticket.id) != ticket.id,
            written < pivot,
        )
        .order_by(written.desc(), col(Ticket.id).desc())
        .limit(limit)
    ).all()
    if not earlier:
        return []
    ids = [t.id for t in earlier]
    # Latest revision's labels and latest review per ticket: later rows overwrite earlier ones.
    results = {
        r.ticket_id: r
        for r in session.exec(
            select(TriageResult)
            .where(col(TriageResult.ticket_id).in_(ids))
            .order_by(col(TriageResult.revision), col(TriageResult.id))
        )
    }
    reviews = {
        r.ticket_id: r
        for r in session.exec(
            select(Review)
            .where(col(Review.ticket_id).in_(ids))
            .order_by(col(Review.created_at), col(Review.id))
        )
    }
    out = []
    for t in earlier:
        result, review = results.get(t.id or 0), reviews.get(t.id or 0)
        category = (review.corrected_category if review else None) or (
            result.category if result else None
        )
        written_at = t.received_at or t.created_at
        out.append(
            PastTicket(
                subject=t.subject,
                category=category,
                first_line=first_line(t.body),
                decision=str(review.decision) if review else None,
                date=written_at.date().isoformat() if written_at else None,
            )
        )
    return out
