"""POSTing one signed event to one endpoint.

2xx is delivered. A timeout, a refused connection, 408, 429 and 5xx are ``TransientError``
(retry with backoff); any other answer (4xx, a redirect, which is not followed) is a
``PermanentError``. The body is signed (``delivery.signing``) and every try carries the same
``Idempotency-Key``, so a receiver can drop a repeat.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from delivery.signing import SIGNATURE_HEADER, sign
from shared.errors import PermanentError, TransientError

RETRY_STATUSES = {408, 425, 429}


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookChannel:
    def __init__(self, secret: str, timeout_s: float) -> None:
        self.secret = secret
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def post(self, url: str, payload: dict[str, Any], delivery_id: str) -> int:
        """Deliver once; returns the answer's status code, raises when it is not a 2xx."""
        body = encode(payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ticketflow-webhooks",
            "Ticketflow-Event": str(payload.get("event", "")),
            "Ticketflow-Delivery": delivery_id,
            "Idempotency-Key": delivery_id,
            SIGNATURE_HEADER: sign(self.secret, body),
        }
        try:
            answer = self.client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise TransientError(f"webhook timed out after {self.client.timeout.read}s") from None
        except httpx.HTTPError as err:
            raise TransientError(f"webhook unreachable: {type(err).__name__}: {err}") from None
        code = answer.status_code
        if 200 <= code < 300:
            return code
        reason = f"webhook answered {code} {answer.reason_phrase}".strip()
        if code >= 500 or code in RETRY_STATUSES:
            raise WebhookUnavailable(reason, code)
        raise WebhookRefused(reason, code)

    def close(self) -> None:
        self.client.close()


class WebhookUnavailable(TransientError):
    """A 5xx, 408, 425 or 429: try again later. ``status`` goes to the delivery log."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


class WebhookRefused(PermanentError):
    """Any other non-2xx answer: the endpoint refuses this event; not retried."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status
