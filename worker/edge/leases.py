"""A worker's lease on every ticket whose message it holds, renewed every quarter lease.

Recovery (``dispatch.recovery``) re-sends a ticket only when nobody holds a running lease on
it, so a live worker's tickets are never sent twice, however long they wait in its prefetch or
take to triage, and a dead worker's are picked up one lease after its last renewal. The
lease is one UPDATE for all held tickets per renewal, from the process whose consumer holds
the messages (the main process, whatever the pool).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from celery.worker import state
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from shared.models import Ticket, TicketStatus, utcnow
from shared.task_names import TRIAGE_TICKET

log = logging.getLogger(__name__)


def held_requests() -> list[Any]:
    """The requests this worker's consumer holds: reserved, running, waiting for a thread, or
    waiting in the timer for a retry's countdown (Celery keeps those apart, as scheduled)."""
    for _ in range(3):  # the consumer thread may add a request while we copy the sets
        try:
            return list(state.reserved_requests) + list(state.scheduled_requests)
        except RuntimeError:
            time.sleep(0.01)
    raise RuntimeError("the set of held messages kept changing")


def held_tickets() -> list[int]:
    ids: set[int] = set()
    for request in held_requests():
        try:
            if request.name == TRIAGE_TICKET:
                ids.add(int(request.args[0]))
        except (AttributeError, IndexError, TypeError, ValueError):
            continue
    return sorted(ids)


def renew(db: Engine, ticket_ids: Sequence[int], owner: str, seconds: float) -> int:
    """Hold these tickets for ``seconds`` more; tickets already done are left alone."""
    if not ticket_ids:
        return 0
    stmt = (
        update(Ticket)
        .where(
            col(Ticket.id).in_(list(ticket_ids)),
            col(Ticket.status).in_((TicketStatus.queued, TicketStatus.processing)),
        )
        .values(lease_owner=owner, lease_expires_at=utcnow() + timedelta(seconds=seconds))
    )
    with Session(db) as s:
        n: int = s.exec(stmt).rowcount
        s.commit()
    return n


class LeaseKeeper:
    """Renews the leases of what ``held`` returns, from its own thread."""

    def __init__(
        self,
        db: Engine,
        owner: str,
        lease_s: float,
        held: Callable[[], list[int]] = held_tickets,
    ) -> None:
        self.db = db
        self.owner = owner
        self.lease_s = lease_s
        self.held = held
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def renew_once(self) -> int:
        return renew(self.db, self.held(), self.owner, self.lease_s)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        interval, failing = self.lease_s / 4, False
        while True:
            try:
                self.renew_once()
                failing = False
            except (SQLAlchemyError, RuntimeError) as err:
                if not failing:
                    log.warning("could not renew ticket leases, retrying: %s", err)
                failing = True
            # While failing, retry every second: leases must be back before they run out.
            if self._stop.wait(1.0 if failing else interval):
                return
