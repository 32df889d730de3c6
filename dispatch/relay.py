"""Claim stored tickets, publish them, and give back what could not be published.

A claim is one conditional UPDATE that stamps ``enqueued_at`` on tickets still unsent, so any
number of relays (every API and worker process, a backfill) can run at once without sending a
ticket twice: on PostgreSQL a concurrent claimer re-checks the row after the first one's
commit, and SQLite has one writer at a time. Publishing happens after that transaction ended,
so no database connection waits on Redis. A publish that fails releases the rest of the claim;
a relay that dies between claim and publish leaves a claimed ticket that no queue carries,
which ``dispatch.recovery`` finds and releases.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch.publisher import Publisher
from shared import metrics
from shared.errors import TransientError
from shared.models import Ticket, TicketStatus, utcnow

log = logging.getLogger(__name__)
CLAIM_PAGE = 200
# A claim older than this is released instead of published: recovery assumes a message
# reaches Redis within seconds of its claim (see ``recovery.PUBLISH_LAG_S``).
MAX_PUBLISH_LAG_S = 5.0


@dataclass(frozen=True)
class Claim:
    ticket_id: int
    revision: int
    queue: str
    claimed_at: datetime


def claim(
    db: Engine,
    *,
    ids: Sequence[int] | None = None,
    stored_before: datetime | None = None,
    limit: int = CLAIM_PAGE,
) -> list[Claim]:
    """Claim up to ``limit`` unsent tickets: these ``ids``, or any stored before the time."""
    now = utcnow()
    unsent = (col(Ticket.status) == TicketStatus.queued, col(Ticket.enqueued_at).is_(None))
    pending = select(Ticket.id).where(*unsent)
    if ids is not None:
        pending = pending.where(col(Ticket.id).in_(list(ids)))
    if stored_before is not None:
        pending = pending.where(col(Ticket.updated_at) <= stored_before)
    pending = pending.order_by(col(Ticket.id)).limit(limit).with_for_update(skip_locked=True)
    stmt = (
        update(Ticket)
        .where(col(Ticket.id).in_(pending.scalar_subquery()), *unsent)
        .values(enqueued_at=now)
        .returning(col(Ticket.id), col(Ticket.revision), col(Ticket.queue))
    )
    with Session(db) as s:
        rows = s.execute(stmt).all()
        s.commit()
    return sorted((Claim(r[0], r[1], r[2], now) for r in rows), key=lambda c: c.ticket_id)


def release(db: Engine, claims: Sequence[Claim]) -> None:
    """Make claimed tickets unsent again, unless they moved on (new revision, re-claimed)."""
    if not claims:
        return
    table = Ticket.__table__  # type: ignore[attr-defined]
    stmt = (
        update(table)
        .where(
            table.c.id == bindparam("tid"),
            table.c.revision == bindparam("rev"),
            table.c.enqueued_at == bindparam("at"),
        )
        .values(enqueued_at=None)
    )
    params = [{"tid": c.ticket_id, "rev": c.revision, "at": c.claimed_at} for c in claims]
    with db.begin() as conn:
        conn.execute(stmt, params)


def publish(
    db: Engine,
    publisher: Publisher,
    claims: Sequence[Claim],
    before_each: Callable[[], None] | None = None,
) -> int:
    """Send each claim in order; returns how many went out.

    Raises what the publisher raised (``TransientError`` when Redis is away) after releasing
    the unsent rest, also on Ctrl-C. Stops early, releasing the rest, once a claim has waited
    ``MAX_PUBLISH_LAG_S`` (a slow Redis, a rate limit): the caller claims them afresh.
    """
    sent = 0
    try:
        for c in claims:
            if before_each is not None:
                before_each()
            if utcnow() - c.claimed_at > timedelta(seconds=MAX_PUBLISH_LAG_S):
                break
            t0 = time.perf_counter()
            publisher.send(c.ticket_id, c.revision, c.queue, c.claimed_at)
            metrics.record_published(c.queue, time.perf_counter() - t0)
            sent += 1
    except TransientError:
        metrics.record_publish_failed()
        raise
    finally:
        if sent < len(claims):
            release(db, claims[sent:])
    return sent


def relay(
    db: Engine,
    publisher: Publisher,
    *,
    ids: Sequence[int] | None = None,
    stored_before: datetime | None = None,
    before_each: Callable[[], None] | None = None,
    max_s: float = 30.0,
) -> int:
    """Claim and publish until nothing matching is left (or ``max_s`` passed); returns the
    number sent. Errors propagate; what was claimed and not sent is released first."""
    sent, deadline = 0, time.monotonic() + max_s
    while time.monotonic() < deadline:
        claims = claim(db, ids=ids, stored_before=stored_before)
        if not claims:
            break
        sent += publish(db, publisher, claims, before_each)
    return sent
