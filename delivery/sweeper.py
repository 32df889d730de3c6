"""Finds delivery rows whose message was lost or whose worker died, and makes them due again.

- ``sending`` past its lease: the worker died mid-send (or cannot reach the database to say
  how it went). Back to ``pending``: it is sent again, with the same Message-ID or
  Idempotency-Key (the worst case a receiver sees: one repeat of an identical message).
- ``pending`` and claimed (``enqueued_at`` set) a lease ago, yet claimed before the next
  message waiting in the delivery queue: the queue is FIFO, so its message was taken and
  lost (a worker killed between taking it and starting, Redis restarted). Unclaimed again,
  and the relay publishes it. A duplicate message is harmless: ``status.take`` lets one win.

Conditional UPDATEs only, so any number of sweepers may run at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from dispatch.broker_view import BrokerView
from dispatch.recovery import PUBLISH_LAG_S
from shared.models import ConnectorWrite, DeliveryStatus, OutboundMessage, WebhookDelivery, utcnow

log = logging.getLogger(__name__)
TABLES = (OutboundMessage, WebhookDelivery, ConnectorWrite)


@dataclass
class SweepResult:
    resumed: int = 0  # sending rows of dead workers, due again
    lost: int = 0  # pending rows whose message was lost, unclaimed again


def sweep(db: Engine, lost_after_s: float, view: BrokerView | None, queue: str) -> SweepResult:
    now = utcnow()
    cutoff = now - timedelta(seconds=lost_after_s)
    if view is not None:
        head = view.head(queue)
        if head.claimed_at is not None:  # rows claimed after the next waiting one still wait
            waiting_from = datetime.fromtimestamp(head.claimed_at - PUBLISH_LAG_S, UTC)
            cutoff = min(cutoff, waiting_from)
    result = SweepResult()
    with Session(db) as s:
        for table in TABLES:
            result.resumed += s.exec(
                update(table)
                .where(
                    col(table.status) == DeliveryStatus.sending,
                    col(table.lease_expires_at) < now,
                )
                .values(
                    status=DeliveryStatus.pending,
                    enqueued_at=None,
                    lease_expires_at=None,
                    last_error="the delivery worker stopped while sending; sending again",
                    updated_at=now,
                )
            ).rowcount
            result.lost += s.exec(
                update(table)
                .where(
                    col(table.status) == DeliveryStatus.pending,
                    col(table.enqueued_at).is_not(None),
                    col(table.enqueued_at) <= cutoff,
                )
                .values(enqueued_at=None, updated_at=now)
            ).rowcount
        s.commit()
    if result.resumed or result.lost:
        log.warning(
            "delivery sweeper: %d message(s) of stopped workers and %d lost message(s) to send "
            "again",
            result.resumed,
            result.lost,
        )
    return result
