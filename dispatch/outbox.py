"""What the relay publishes: any table whose rows are committed first and sent after.

Tickets (to the triage queue), approved replies and webhook events (to the delivery queue) all
follow one discipline: a producer commits a row whose ``enqueued_at`` is empty; a relay claims
it with a conditional UPDATE that stamps ``enqueued_at`` and publishes it after the commit; a
publish that fails gives the claim back. An ``Outbox`` says, for one table, which rows are
unsent and what a claim reads back, so ``dispatch.relay`` serves every producer with the same
code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, literal
from sqlmodel import col

from shared.models import Ticket, TicketStatus


@dataclass(frozen=True)
class Outbox:
    """One relayed table. ``unsent(now)``: the rows to publish; ``version``: a column a
    message carries besides the id (a ticket's revision), whose change voids a claim."""

    name: str
    table: Any  # a SQLModel table class with ``id`` and ``enqueued_at``
    unsent: Callable[[datetime], Sequence[ColumnElement[bool]]]
    version: str | None = None
    queue: str | None = None  # a column naming the queue; None: the publisher knows it
    stored: str = "updated_at"  # what ``stored_before`` compares
    # Leave fresh rows to the producer that stored them for ``relay_handoff_s`` (the API
    # nudges its own relay); False: any relay sends a row as soon as ``unsent`` holds.
    handoff: bool = True

    def column(self, name: str) -> Any:
        return col(getattr(self.table, name))

    def returning(self) -> tuple[Any, Any, Any]:
        """(id, version, queue) of a claimed row; literals where the table has none."""
        version = self.column(self.version) if self.version else literal(1)
        queue = self.column(self.queue) if self.queue else literal("")
        return self.column("id"), version, queue


def _unsent_tickets(_: datetime) -> Sequence[ColumnElement[bool]]:
    return (col(Ticket.status) == TicketStatus.queued, col(Ticket.enqueued_at).is_(None))


TICKETS = Outbox("tickets", Ticket, _unsent_tickets, version="revision", queue="queue")
