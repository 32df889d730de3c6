"""Gauges read at scrape time from Redis and the database, for the API's ``/metrics``.

Queue depth and the age of the oldest ticket in each in-flight status are facts about the
whole system, not about one process: reading them when Prometheus asks gives the same answer
from every API process and needs no bookkeeping. A part that cannot be read (Redis or the
database away) is reported by ``ticketflow_scrape_error`` instead of failing the scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from shared.metrics import PREFIX
from shared.models import Ticket, TicketStatus, utcnow

# kombu's Redis transport: messages delivered and not yet acknowledged.
UNACKED_KEY = "unacked"
WATCHED = (TicketStatus.queued, TicketStatus.processing, TicketStatus.triaged, TicketStatus.failed)


class LiveCollector(Collector):
    def __init__(
        self, redis_client: Callable[[], Any], db: Callable[[], Engine], queues: Sequence[str]
    ) -> None:
        self.redis_client = redis_client
        self.db = db
        self.queues = list(dict.fromkeys(queues))

    def collect(self) -> Iterable[Metric]:
        errors = GaugeMetricFamily(
            f"{PREFIX}_scrape_error",
            "1 when a part could not be read at this scrape.",
            labels=["part"],
        )
        try:
            yield from self._queues()
            errors.add_metric(["redis"], 0)
        except (redis.RedisError, OSError):
            errors.add_metric(["redis"], 1)
        try:
            yield from self._tickets()
            errors.add_metric(["database"], 0)
        except Exception:  # a scrape must answer whatever the database does
            errors.add_metric(["database"], 1)
        yield errors

    def _queues(self) -> list[Metric]:
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "Messages waiting in a Redis queue.", labels=["queue"]
        )
        held = GaugeMetricFamily(
            f"{PREFIX}_messages_unacked", "Messages delivered to workers, not yet acknowledged."
        )
        client = self.redis_client()
        pipe = client.pipeline()
        for q in self.queues:
            pipe.llen(q)
        pipe.hlen(UNACKED_KEY)
        *lengths, unacked = pipe.execute()
        for q, n in zip(self.queues, lengths, strict=True):
            depth.add_metric([q], n)
        held.add_metric([], unacked)
        return [depth, held]

    def _tickets(self) -> list[Metric]:
        count = GaugeMetricFamily(
            f"{PREFIX}_tickets", "Tickets per in-flight status.", labels=["status"]
        )
        oldest = GaugeMetricFamily(
            f"{PREFIX}_oldest_ticket_age_seconds",
            "Time since the least recently updated ticket in a status changed (0: none).",
            labels=["status"],
        )
        stmt = (
            select(Ticket.status, func.count(), func.min(Ticket.updated_at))
            .where(col(Ticket.status).in_(WATCHED))
            .group_by(Ticket.status)
        )
        with Session(self.db()) as s:
            rows = {str(st): (n, at) for st, n, at in s.exec(stmt).all()}
        now = utcnow()
        for status in WATCHED:
            n, at = rows.get(str(status), (0, None))
            count.add_metric([str(status)], n)
            if at is not None and at.tzinfo is None:  # SQLite hands back naive UTC
                at = at.replace(tzinfo=now.tzinfo)
            oldest.add_metric([str(status)], (now - at).total_seconds() if at else 0.0)
        return [count, oldest]
