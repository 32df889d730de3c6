"""Claim stored rows, publish them, and give back what could not be published.

Tickets by default; any other ``dispatch.outbox.Outbox`` (approved replies, webhook events)
goes through the same functions. A claim is one conditional UPDATE that stamps
``enqueued_at`` on rows still unsent, so any
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
from sqlmodel import Session, select

from dispatch.outbox import TICKETS, Outbox
from dispatch.publisher import Publisher
from shared import metrics
from shared.errors import TransientError
from shared.models import utcnow

log = logging.getLogger(__name__)
CLAIM_PAGE = 200
# A claim older than this is released instead of published: recovery assumes a message
# reaches Redis within seconds of its claim (see ``recovery.PUBLISH_LAG_S``).
MAX_PUBLISH_LAG_S = 5.0


@dataclass(frozen=True)
class Claim:
    row_id: int  # a ticket's id for the tickets outbox
    revision: int  # the outbox's version column; 1 where it has none
    queue: str
    claimed_at: datetime

    @property
    def ticket_id(self) -> int:
        return self.row_id


def claim(
    db: Engine,
    *,
    ids: Sequence[int] | None = None,
    stored_before: datetime | None = None,
    limit: int = CLAIM_PAGE,
    outbox: Outbox = TICKETS,
) -> list[Claim]:
    """Claim up to ``limit`` unsent rows: these ``ids``, or any stored before the time."""
    now = utcnow()
    unsent = outbox.unsent(now)
    row_id = outbox.column("id")
    pending = select(row_id).where(*unsent)
    if ids is not None:
        pending = pending.where(row_id.in_(list(ids)))
    if stored_before is not None:
        pending = pending.where(outbox.column(outbox.stored) <= stored_before)
    pending = pending.order_by(row_id).limit(limit).with_for_update(skip_locked=True)
    stmt = (
        update(outbox.table)
        .where(row_id.in_(pending.scalar_subquery()), *unsent)
        .values(enqueued_at=now)
        .returning(*outbox.returning())
    )
    with Session(db) as s:
        rows = s.execute(stmt).all()
        s.commit()
    return sorted((Claim(r[0], r[1], r[2], now) for r in rows), key=lambda c: c.row_id)


def release(db: Engine, claims: Sequence[Claim], outbox: Outbox = TICKETS) -> None:
    """Make claimed rows unsent again, unless they moved on (new revision, re-claimed)."""
    if not claims:
        return
    table = outbox.table.__table__
    same = [table.c.id == bindparam("tid"), table.c.enqueued_at == bindparam("at")]
    if outbox.version:
        same.append(table.c[outbox.version] == bindparam("rev"))
    stmt = update(table).where(*same).values(enqueued_at=None)
    params = [{"tid": c.row_id, "rev": c.revision, "at": c.claimed_at} for c in claims]
    with db.begin() as conn:
        conn.execute(stmt, params)


def publish(
    db: Engine,
    publisher: Publisher,
    claims: Sequence[Claim],
    before_each: Callable[[], None] | None = None,
    outbox: Outbox = TICKETS,
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
            publisher.send(c.row_id, c.revision, c.queue, c.claimed_at)
            metrics.record_published(c.queue, time.perf_counter() - t0)
            sent += 1
    except TransientError:
        metrics.record_publish_failed()
        raise
    finally:
        if sent < len(claims):
            release(db, claims[sent:], outbox)
    return sent


def relay(
    db: Engine,
    publisher: Publisher,
    *,
    ids: Sequence[int] | None = None,
    stored_before: datetime | None = None,
    before_each: Callable[[], None] | None = None,
    max_s: float = 30.0,
    outbox: Outbox = TICKETS,
) -> int:
    """Claim and publish until nothing matching is left (or ``max_s`` passed); returns the
    number sent. Errors propagate; what was claimed and not sent is released first."""
    sent, deadline = 0, time.monotonic() + max_s
    while time.monotonic() < deadline:
        claims = claim(db, ids=ids, stored_before=stored_before, outbox=outbox)
        if not claims:
            break
        sent += publish(db, publisher, claims, before_each, outbox)
    return sent
