"""The HTTP client every connector uses (httpx), and how a helpdesk's answers map to errors.

Same rules as the webhook channel (``delivery.webhook_channel``): a timeout, a refused
connection, 408, 425, 429 and 5xx are ``TransientError`` (the outbox retries with backoff);
any other non-2xx is a ``PermanentError``. Redirects are not followed (a login page is not
an answer). Error messages name the connector, method, path and status only: no secret, no
customer text, so they may be logged and stored as a row's ``last_error``.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.errors import PermanentError, TransientError

RETRY_STATUSES = {408, 425, 429}


class HelpdeskUnavailable(TransientError):
    """The helpdesk is down, slow or rate-limiting: try again later."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class HelpdeskRefused(PermanentError):
    """The helpdesk refused the request (bad credentials, unknown ticket, invalid field)."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


class HelpdeskClient:
    """An ``httpx.Client`` bound to one helpdesk's base URL and credentials."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float, name: str) -> None:
        self.name = name
        self.client = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": "ticketflow-connector", "Accept": "application/json", **headers},
            timeout=timeout_s,
            follow_redirects=False,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; return the 2xx answer or raise the mapped error."""
        where = f"{self.name}: {method} {path.split('?')[0]}"
        try:
            answer = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise HelpdeskUnavailable(f"{where} timed out") from None
        except httpx.HTTPError as err:
            raise HelpdeskUnavailable(f"{where} failed: {type(err).__name__}") from None
        code = answer.status_code
        if 200 <= code < 300:
            return answer
        reason = f"{where} answered {code} {answer.reason_phrase}".strip()
        if code >= 500 or code in RETRY_STATUSES:
            raise HelpdeskUnavailable(reason, code)
        raise HelpdeskRefused(reason, code)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and the answer's JSON body (None when it is empty)."""
        answer = self.request(method, path, **kwargs)
        if not answer.content:
            return None
        try:
            return answer.json()
        except ValueError:
            where = f"{self.name}: {method} {path.split('?')[0]}"
            raise HelpdeskRefused(f"{where}: the answer is not JSON", answer.status_code) from None

    def close(self) -> None:
        self.client.close()
