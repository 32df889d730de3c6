"""What recovery reads from Redis: the next message of each queue, and the messages workers hold.

kombu's Redis transport keeps a queue as a list (published with LPUSH, consumed with BRPOP from
the other end, so the last element is the oldest) and every delivered, unacknowledged message in
the ``unacked`` hash with its delivery time in the ``unacked_index`` sorted set. A message
whose index score is below "now - visibility timeout" is put back on its queue by the next
``restore_visible`` sweep of any worker (``TICKETFLOW_REDELIVERY_CHECK_S``); handing a
message back means setting its score to 0, which is what the stall watchdog does too.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from kombu.transport.redis import Channel

from dispatch.publisher import CLAIMED_AT_HEADER
from shared.task_names import TRIAGE_TICKET

log = logging.getLogger(__name__)
UNACKED_KEY = Channel.unacked_key
UNACKED_INDEX_KEY = Channel.unacked_index_key


@dataclass(frozen=True)
class Held:
    """A delivered message no worker acknowledged yet."""

    tag: str
    ticket_id: int
    revision: int
    delivered_at: float  # epoch seconds


@dataclass(frozen=True)
class Head:
    """The next message a queue hands out. ``claimed_at`` is None for an empty queue, and
    ``known`` is False when the message carries no claim time (a Celery retry)."""

    claimed_at: float | None
    known: bool = True


class BrokerView(Protocol):
    def head(self, queue: str) -> Head: ...
    def held(self) -> list[Held]: ...
    def hand_back(self, tags: list[str]) -> int: ...
    def lock(self, name: str, token: str, ttl_s: float) -> bool: ...
    def close(self) -> None: ...


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def triage_args(payload: dict[str, Any]) -> tuple[int, int] | None:
    """(ticket_id, revision) of a kombu message payload, None if it is not a triage message
    (a delivery message on the same Redis carries an outbox row's id, not a ticket's)."""
    try:
        if payload.get("headers", {}).get("task", TRIAGE_TICKET) != TRIAGE_TICKET:
            return None
        body = payload["body"]
        if payload.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]  # Celery protocol 2: [args, kwargs, embed]
        return int(args[0]), int(args[1]) if len(args) > 1 else 1
    except (KeyError, IndexError, TypeError, ValueError):
        return None


class RedisBrokerView:
    """A ``BrokerView`` over a Redis client with short timeouts (recovery must not hang)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str) -> RedisBrokerView:
        return cls(redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=2))

    def head(self, queue: str) -> Head:
        raw = self.client.lindex(queue, -1)
        if raw is None:
            return Head(None)
        try:
            value = json.loads(raw)["headers"].get(CLAIMED_AT_HEADER)
            return Head(float(value)) if value is not None else Head(None, known=False)
        except (KeyError, TypeError, ValueError, AttributeError):
            return Head(None, known=False)

    def held(self) -> list[Held]:
        pairs: Any = self.client.zrange(UNACKED_INDEX_KEY, 0, -1, withscores=True)
        scores = {_text(tag): float(score) for tag, score in pairs}
        out: list[Held] = []
        for key, raw in self.client.hgetall(UNACKED_KEY).items():
            tag = _text(key)
            try:
                args = triage_args(json.loads(raw)[0])
            except (ValueError, IndexError, TypeError):
                args = None
            if args is None or tag not in scores:
                continue
            out.append(Held(tag, args[0], args[1], scores[tag]))
        return out

    def hand_back(self, tags: list[str]) -> int:
        if not tags:
            return 0
        # xx: a message acknowledged meanwhile is not brought back.
        self.client.zadd(UNACKED_INDEX_KEY, dict.fromkeys(tags, 0), xx=True, ch=True)
        return len(tags)

    def lock(self, name: str, token: str, ttl_s: float) -> bool:
        """Take or keep a short lock, so one recovery runs at a time however many processes."""
        ttl_ms = max(int(ttl_s * 1000), 1)
        if self.client.set(name, token, nx=True, px=ttl_ms):
            return True
        if self.client.get(name) == token.encode():
            self.client.pexpire(name, ttl_ms)
            return True
        return False

    def close(self) -> None:
        self.client.close()
