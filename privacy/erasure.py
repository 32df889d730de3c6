"""Erasure and retention: `ticketflow forget --email` and `ticketflow purge --older-than`.

A customer's tickets go with everything that hangs off them (triage results with their drafts,
reviews with the replies, thread messages, outbox rows), plus the messages they wrote into
other people's threads (those threads' bodies are rebuilt without them) and quarantined raw mail
that mentions their address. Nothing is kept "anonymised": every figure ticketflow reports
(``/tickets`` counts, evaluation) is computed from rows that still exist, so deleting is enough,
and the command prints how many rows of each table it removed.

Retention (`purge`) removes tickets whose last activity (``updated_at``) is older than the
cut-off, the same way, and quarantined input older than it. Reviewers' corrections are training
data: export them (`ticketflow train --from-db` reads them) before purging if you need them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import Session, SQLModel, col, select

from shared.config import default
from shared.models import (
    ConnectorWrite,
    OutboundMessage,
    QuarantinedInput,
    ReplyExample,
    Review,
    Ticket,
    TicketMessage,
    TriageResult,
    WebhookDelivery,
    utcnow,
)

# Tables keyed by ``ticket_id``, deleted before the ticket, children first (a review points at a
# triage result). A new table that holds ticket data is one more entry here.
TICKET_CHILDREN: tuple[type[SQLModel], ...] = (
    ConnectorWrite,
    OutboundMessage,
    WebhookDelivery,
    ReplyExample,
    Review,
    TriageResult,
    TicketMessage,
)
BODY_CHARS: int = default("max_body_chars")
CHUNK = 500  # ids per DELETE: bounded statements and transactions on a large purge
_AGE = re.compile(r"^\s*(\d{1,6})\s*([dhw])\s*$", re.IGNORECASE)


def parse_age(text: str) -> timedelta:
    """``365d``, ``12w`` or ``48h``; a plain number is days."""
    if text.strip().isdigit():
        return timedelta(days=int(text))
    m = _AGE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an age such as 365d, 52w or 48h")
    n, unit = int(m.group(1)), m.group(2).lower()
    return {"d": timedelta(days=n), "w": timedelta(weeks=n), "h": timedelta(hours=n)}[unit]


def _table(model: type[SQLModel]) -> str:
    return str(model.__tablename__)


def summary(removed: Counter[str], dry_run: bool = False) -> str:
    verb = "would remove" if dry_run else "removed"
    parts = [f"{n} {table}" for table, n in removed.items()] or ["nothing"]
    return f"{verb}: " + ", ".join(parts)


def delete_tickets(session: Session, ids: Sequence[int], dry_run: bool = False) -> Counter[str]:
    """Delete tickets and every row hanging off them; counts per table. Caller commits."""
    tables: tuple[type[SQLModel], ...] = (Ticket, *TICKET_CHILDREN)
    removed: Counter[str] = Counter({_table(m): 0 for m in tables})
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        for model in TICKET_CHILDREN:
            column = model.ticket_id  # type: ignore[attr-defined]
            if dry_run:
                n = session.exec(select(func.count()).where(col(column).in_(chunk))).one()
            else:
                n = session.exec(delete(model).where(col(column).in_(chunk))).rowcount
            removed[_table(model)] += n
        if not dry_run:
            session.exec(delete(Ticket).where(col(Ticket.id).in_(chunk)))
            # Links from other tickets (spoof flags) point at nothing now.
            session.exec(
                update(Ticket)
                .where(col(Ticket.linked_ticket_id).in_(chunk))
                .values(linked_ticket_id=None)
            )
        removed[_table(Ticket)] += len(chunk)
    return removed


def _quarantined(session: Session, needle: bytes | None, before: datetime | None) -> list[int]:
    """Quarantined rows that mention ``needle`` (case-insensitive) or are older than ``before``."""
    ids: list[int] = []
    last = 0
    while True:  # raw mail can be large: read it in pages
        stmt = select(QuarantinedInput).where(col(QuarantinedInput.id) > last)
        if before is not None:
            stmt = stmt.where(col(QuarantinedInput.created_at) < before)
        rows = session.exec(stmt.order_by(col(QuarantinedInput.id)).limit(100)).all()
        if not rows:
            return ids
        for row in rows:
            if needle is None or needle in bytes(row.raw).lower() or needle in row.origin.encode():
                ids.append(row.id or 0)
        last = rows[-1].id or 0
        session.expunge_all()


def _delete_quarantined(session: Session, ids: list[int], dry_run: bool) -> int:
    if not dry_run:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            session.exec(delete(QuarantinedInput).where(col(QuarantinedInput.id).in_(chunk)))
    return len(ids)


def forget(session: Session, email: str, dry_run: bool = False) -> Counter[str]:
    """Remove everything stored about the customer with this address; counts per table."""
    from producer.email.thread import conversation  # rebuilds threads they wrote into

    address = email.strip().lower()
    if "@" not in address:
        raise ValueError(f"{email!r} is not an e-mail address")
    own = session.exec(
        select(Ticket.id).where(func.lower(col(Ticket.customer_email)) == address)
    ).all()
    removed = delete_tickets(session, [i for i in own if i is not None], dry_run)
    # Their messages in other customers' threads, and those threads' bodies without them.
    theirs = session.exec(
        select(TicketMessage).where(func.lower(col(TicketMessage.sender)) == address)
    ).all()
    removed["ticket_message"] += len(theirs)
    if not dry_run:
        threads = {m.ticket_id for m in theirs}
        for m in theirs:
            session.delete(m)
        session.flush()
        for ticket_id in threads:
            ticket = session.get(Ticket, ticket_id)
            if ticket is not None:
                ticket.body = conversation(session, ticket_id, BODY_CHARS) or "-"
                ticket.updated_at = utcnow()
                session.add(ticket)
    ids = _quarantined(session, address.encode(), None)
    removed[_table(QuarantinedInput)] += _delete_quarantined(session, ids, dry_run)
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return removed


def purge(
    session: Session, older_than: timedelta, now: datetime | None = None, dry_run: bool = False
) -> Counter[str]:
    """Remove tickets inactive for longer than ``older_than`` and older quarantined input."""
    cutoff = (now or utcnow()) - older_than
    old = session.exec(select(Ticket.id).where(col(Ticket.updated_at) < cutoff)).all()
    removed = delete_tickets(session, [i for i in old if i is not None], dry_run)
    ids = _quarantined(session, None, cutoff)
    removed[_table(QuarantinedInput)] += _delete_quarantined(session, ids, dry_run)
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return removed
