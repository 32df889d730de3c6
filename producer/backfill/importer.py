"""Idempotent, resumable import: persist a chunk of rows, then publish it.

The rules are intake's (persist first, then send; ``(source, external_id)`` is unique;
``enqueued_at`` says whether the message went out), applied a chunk at a time: one lookup and
one insert per chunk, then the chunk goes through the relay's claim at the allowed rate. A
rerun therefore counts stored-and-sent rows as duplicates and sends only the rows a crash left
stored but unsent (which a running relay also sends after ``TICKETFLOW_RELAY_HANDOFF_S``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch.publisher import Publisher
from producer.backfill.ratelimit import RateLimiter
from producer.backfill.reader import ImportRow, InvalidRow, Row
from producer.intake import persist_ticket, send_now
from shared.errors import QueueUnavailable, TransientError
from shared.models import Ticket, TicketCreate, TicketStatus

log = logging.getLogger(__name__)

Key = tuple[str, str | None]


@dataclass
class ImportCounts:
    """What happened to each row read; ``resumed`` rows were stored earlier but never sent."""

    read: int = 0
    new: int = 0
    duplicate: int = 0
    resumed: int = 0
    invalid: int = 0
    enqueued: int = 0


def _key(ticket: TicketCreate | Ticket) -> Key:
    return ticket.source, ticket.external_id


def needs_send(ticket: Ticket) -> bool:
    """Stored but never published: a crash between commit and publish left it behind."""
    return ticket.status == TicketStatus.queued and ticket.enqueued_at is None


def find_stored(session: Session, tickets: list[TicketCreate]) -> dict[Key, Ticket]:
    """The already stored tickets among ``tickets``, in one query."""
    if not tickets:
        return {}
    sources = {t.source for t in tickets}
    ids = {t.external_id for t in tickets}
    stmt = select(Ticket).where(col(Ticket.source).in_(sources), col(Ticket.external_id).in_(ids))
    return {_key(t): t for t in session.exec(stmt).all()}


class Importer:
    """Feeds rows through lookup -> insert -> publish, keeping the counts."""

    def __init__(
        self,
        session: Session,
        publisher: Publisher,
        queue: str,
        *,
        rate: float = 0.0,
        dry_run: bool = False,
        chunk_size: int = 500,
        on_invalid: Callable[[InvalidRow], None] | None = None,
        on_progress: Callable[[ImportCounts], None] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.session = session
        self.publisher = publisher
        self.queue = queue
        self.dry_run = dry_run
        # Rate-limited chunks last about a second, well inside the relays' hand-off time.
        self.chunk_size = max(1, min(chunk_size, int(rate) or chunk_size))
        self.limiter = limiter or RateLimiter(rate)
        self.on_invalid = on_invalid
        self.on_progress = on_progress
        self.counts = ImportCounts()
        self._seen: set[Key] = set()  # dry run only: nothing is stored to dedupe against

    def run(self, rows: Iterable[Row]) -> ImportCounts:
        chunk: list[ImportRow] = []
        for row in rows:
            self.counts.read += 1
            if isinstance(row, InvalidRow):
                self.counts.invalid += 1
                if self.on_invalid:
                    self.on_invalid(row)
            else:
                chunk.append(row)
            if len(chunk) >= self.chunk_size:
                self._process(chunk)
                chunk = []
            if self.counts.read % self.chunk_size == 0:
                self._report()
        self._process(chunk)
        self._report()
        return self.counts

    def _report(self) -> None:
        if self.on_progress:
            self.on_progress(self.counts)

    def _process(self, chunk: list[ImportRow]) -> None:
        if not chunk:
            return
        stored = find_stored(self.session, [row.ticket for row in chunk])
        fresh: list[ImportRow] = []
        outgoing: list[Ticket] = []
        seen_here: set[Key] = set()
        for row in chunk:
            key = _key(row.ticket)
            ticket = stored.get(key)
            if key in seen_here or key in self._seen:
                self.counts.duplicate += 1
            elif ticket is None:
                fresh.append(row)
            elif needs_send(ticket):
                self.counts.resumed += 1
                outgoing.append(ticket)
            else:
                self.counts.duplicate += 1
            seen_here.add(key)
        if self.dry_run:
            self._seen |= seen_here
            self.counts.new += len(fresh)
            return
        outgoing += self._insert(fresh)
        self._publish(outgoing)

    def _insert(self, rows: list[ImportRow]) -> list[Ticket]:
        """Store new rows in one commit; on a race with another producer, one at a time."""
        if not rows:
            return []
        tickets = [Ticket.model_validate(r.ticket, update={"queue": self.queue}) for r in rows]
        self.session.add_all(tickets)
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            log.info("some rows were stored concurrently; inserting this chunk row by row")
            tickets = []
            for row in rows:
                ticket, created = persist_ticket(self.session, row.ticket, self.queue)
                if created:
                    tickets.append(ticket)
                else:  # the producer that stored it also sends it (or a rerun will)
                    self.counts.duplicate += 1
        self.counts.new += len(tickets)
        return tickets

    def _publish(self, tickets: list[Ticket]) -> None:
        """Send the chunk at the allowed rate (what another relay sent meanwhile is skipped)."""
        ids = [t.id for t in tickets if t.id is not None]
        if not ids:
            return
        try:
            self.counts.enqueued += send_now(self.session, self.publisher, ids, self.limiter.wait)
        except TransientError as err:
            raise QueueUnavailable(
                f"{err}; {self.counts.enqueued} tickets were enqueued, the rest are stored: a "
                "running API or worker sends them once Redis is back, or run the same command "
                "again"
            ) from err
