"""kombu's Redis transport, with one guard that keeps a worker alive across a Redis restart.

When Redis goes away under a worker that holds an unacknowledged message, Celery 5.7's consumer
first ``collect()``s the broken connection (which detaches the transport from its kombu
``Connection``) and then ``close()``s it. The second close runs the channel's
``restore_unacked`` again, which needs a fresh connection pool, whose parameters kombu reads
from the detached ``Connection``: ``AttributeError: 'NoneType' object has no attribute
'hostname'``. That error is not a connection error, so it escapes ``ignore_errors`` and ends
the worker ("Unrecoverable error", exit code 0), and the messages it held wait for the
visibility timeout. Upstream: celery/kombu#970 and #582 are the same failure in older code
paths. The guard remembers the parameters the channel connected with, so the restore reaches
the restarted Redis and hands the messages back at once (or fails as a connection error, which
kombu ignores during cleanup).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _remembered: dict[bool, dict[str, Any]]

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        remembered = self.__dict__.setdefault("_remembered", {})
        if self.connection.client is None and asynchronous in remembered:
            return dict(remembered[asynchronous])
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
        remembered[asynchronous] = dict(params)
        return params


class Transport(redis.Transport):
    Channel = Channel


# What ``broker_transport`` names for redis:// and rediss:// URLs (shared/celery_app.py).
TRANSPORT = f"{__name__}:Transport"
