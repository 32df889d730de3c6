"""Find tickets whose message was lost or is held by a dead worker, and send them once more.

A ticket needs recovery when it was claimed for sending at least one lease ago and no worker
holds a lease on it (workers renew theirs every quarter lease while the message is theirs,
``worker.edge.leases``). For each such ticket, Redis says where its message is:

- held (unacknowledged) since before the lease: its worker is dead -> hand the message back,
  so a worker's next redelivery sweep re-queues it (the same message: no duplicate);
- still waiting in its queue: the queue is FIFO, so a ticket claimed before the claim time of
  the queue's next message was taken already; one claimed after it is still waiting -> leave it;
- nowhere, on two passes in a row (a message moves from the queue to the held set in
  microseconds, never across a pass): lost (a worker killed between pop and bookkeeping, Redis
  restarted without the last writes, a relay killed mid-claim) -> make it unsent again, and
  the relay publishes it.

So nothing is re-sent while a message for it is in flight, and a backlog is never multiplied,
however long tickets wait. Redis failing or the database failing skips a pass.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch.broker_view import BrokerView, Held
from shared.models import Ticket, TicketStatus, utcnow

log = logging.getLogger(__name__)
CANDIDATE_PAGE = 500
# A claimed message reaches Redis within this long (the relay releases claims older than
# ``relay.MAX_PUBLISH_LAG_S``, and a publish times out in a few seconds), so a ticket claimed
# this much before the queue's next message cannot still be behind it.
PUBLISH_LAG_S = 15.0
IN_FLIGHT = (TicketStatus.queued, TicketStatus.processing)

Key = tuple[int, int, datetime]  # ticket id, revision, claim time


@dataclass
class PassResult:
    candidates: int = 0
    handed_back: int = 0
    resent: list[int] = field(default_factory=list)  # ticket ids, now unsent again
    suspects: int = 0


@dataclass
class Recovery:
    """One instance per process; ``run_pass`` is called every recovery interval."""

    db: Engine
    view: BrokerView
    queues: Sequence[str]
    lease_s: float
    _suspects: set[Key] = field(default_factory=set)

    def run_pass(self) -> PassResult:
        result = PassResult()
        now = utcnow()
        candidates = self._candidates(now)
        result.candidates = len(candidates)
        if not candidates:
            self._suspects.clear()
            return result
        held: dict[tuple[int, int], list[Held]] = defaultdict(list)
        for h in self.view.held():
            held[(h.ticket_id, h.revision)].append(h)
        abandoned_before = now.timestamp() - self.lease_s
        tags: list[str] = []
        suspects: set[Key] = set()
        lost: list[Key] = []
        for ticket_id, revision, claimed_at in candidates:
            messages = held.get((ticket_id, revision))
            if messages:
                # A message delivered since the lease began is a live worker's, not yet leased.
                tags += [m.tag for m in messages if m.delivered_at <= abandoned_before]
                continue
            key = (ticket_id, revision, claimed_at)
            if key in self._suspects:
                lost.append(key)
            else:
                suspects.add(key)
        result.handed_back = self.view.hand_back(tags)
        result.resent = self._release(lost, now)
        result.suspects = len(suspects)
        self._suspects = suspects
        if result.handed_back or result.resent:
            log.warning(
                "recovery: %d message(s) of dead workers handed back, %d lost message(s) to "
                "send again",
                result.handed_back,
                len(result.resent),
            )
        return result

    def _candidates(self, now: datetime) -> list[Key]:
        """Claimed at least a lease ago, nobody's lease running, not (yet) behind a queue's
        next message."""
        lease_ago = now - timedelta(seconds=self.lease_s)
        unheld = or_(col(Ticket.lease_expires_at).is_(None), col(Ticket.lease_expires_at) < now)
        per_queue = []
        for queue in self.queues:
            head = self.view.head(queue)
            in_queue = col(Ticket.queue) == queue
            if head.known:
                cutoff = lease_ago
                if head.claimed_at is not None:  # waiting tickets are the ones claimed later
                    next_claim = datetime.fromtimestamp(head.claimed_at - PUBLISH_LAG_S, UTC)
                    cutoff = min(cutoff, next_claim)
                per_queue.append(
                    and_(
                        in_queue,
                        col(Ticket.status).in_(IN_FLIGHT),
                        col(Ticket.enqueued_at) <= cutoff,
                    )
                )
            else:  # cannot tell what waits in this queue: only taken tickets are checked
                per_queue.append(
                    and_(
                        in_queue,
                        col(Ticket.status) == TicketStatus.processing,
                        col(Ticket.enqueued_at) <= lease_ago,
                    )
                )
        stmt = (
            select(Ticket.id, Ticket.revision, Ticket.enqueued_at)
            .where(or_(*per_queue), unheld, col(Ticket.enqueued_at).is_not(None))
            .order_by(col(Ticket.id))
            .limit(CANDIDATE_PAGE)
        )
        with Session(self.db) as s:
            rows = s.exec(stmt).all()
        return [(i, r, e) for i, r, e in rows if i is not None and e is not None]

    def _release(self, lost: list[Key], now: datetime) -> list[int]:
        """Unsent again (the relay publishes them), each only if nothing changed meanwhile."""
        released: list[int] = []
        with Session(self.db) as s:
            for ticket_id, revision, claimed_at in lost:
                changed = s.exec(
                    update(Ticket)
                    .where(
                        col(Ticket.id) == ticket_id,
                        col(Ticket.revision) == revision,
                        col(Ticket.enqueued_at) == claimed_at,
                        col(Ticket.status).in_(IN_FLIGHT),
                        or_(
                            col(Ticket.lease_expires_at).is_(None),
                            col(Ticket.lease_expires_at) < now,
                        ),
                    )
                    .values(
                        status=TicketStatus.queued,
                        enqueued_at=None,
                        lease_owner=None,
                        lease_expires_at=None,
                        updated_at=utcnow(),
                    )
                ).rowcount
                if changed:
                    released.append(ticket_id)
            s.commit()
        return released
