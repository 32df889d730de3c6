"""The one interface every helpdesk connector implements, and the plain data it speaks.

A connector is the only code that knows a helpdesk's HTTP API. Inbound, the route
(``connectors.routes``) hands it the raw request: ``verify`` (signature or shared secret; a
``SignatureError`` is a 401 and nothing is stored), then ``parse`` (an ``InboundEvent`` or
``Ignored``; a ``MalformedEvent`` is a 422). ``connectors.inbound`` then stores the event the
way every producer does. Outbound, ``ticketflow deliver`` calls ``write_triage``,
``write_draft`` and ``write_reply`` for outbox rows: each raises ``TransientError`` (retried
with backoff) or ``PermanentError`` (the row fails with the reason), and receives a ``Target``
whose ``key`` is the same on every attempt and whose ``retry`` says an earlier attempt may
already have reached the helpdesk, so a write that is not naturally idempotent must look
for its own earlier result first (see ``find_marker``).

Secrets and customer text never go into an exception message that is logged: say the method,
the path and the status.
"""

from __future__ import annotations

import html
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from connectors.http import HelpdeskClient
from shared.connector_config import ConnectorConfig
from shared.errors import InputError, TicketflowError

Headers = Mapping[str, str]  # lower-case names (the route lower-cases them)


class SignatureError(TicketflowError):
    """The request is not signed by the helpdesk (or lacks the shared secret): 401."""


class MalformedEvent(InputError):
    """The request is signed but its body is not an event this connector can read: 422."""


class EventKind(StrEnum):
    new_ticket = "new_ticket"  # a ticket opened in the helpdesk, with its first message
    customer_message = "customer_message"  # the customer wrote again on a known ticket
    agent_reply = "agent_reply"  # an agent sent a public reply in the helpdesk: a review


@dataclass(frozen=True)
class InboundEvent:
    """One thing that happened in the helpdesk that ticketflow acts on.

    ``ticket_ref`` and ``message_ref`` are the helpdesk's own ids (ticket; article, comment,
    message): together they make an event idempotent, so a redelivered webhook is stored once.
    """

    kind: EventKind
    ticket_ref: str
    message_ref: str
    body: str
    subject: str = ""
    customer_email: str | None = None
    customer_name: str | None = None
    author: str | None = None  # who wrote it (the agent, for an agent reply)
    received_at: datetime | None = None


@dataclass(frozen=True)
class Ignored:
    """An event ticketflow does not act on (an internal note, a status change, our own note).
    ``reason`` is a short fixed word: it becomes a metrics label."""

    reason: str


@dataclass(frozen=True)
class Target:
    """The helpdesk ticket a write goes to. ``key`` is the write's idempotency key, the same on
    every attempt; ``retry`` is True when an earlier attempt may have reached the helpdesk."""

    ticket_ref: str
    ticket_id: int
    key: str
    retry: bool = False


@dataclass(frozen=True)
class TriageLabels:
    """What the classifier concluded; written as tags and fields per the connector mapping."""

    category: str
    priority: str
    sentiment: str
    language: str
    needs_human_triage: bool = False

    def value(self, label: str) -> str:
        raw = getattr(self, label)
        return str(raw).lower() if isinstance(raw, bool) else str(raw)


@dataclass(frozen=True)
class Draft:
    """The drafted reply, offered to the agent as a suggestion (never sent by this write)."""

    text: str
    warnings: list[str] = field(default_factory=list)
    review_url: str = ""  # where the draft can be reviewed in ticketflow


class ReplyMode(StrEnum):
    post = "post"  # the approved reply becomes the public reply to the customer
    draft = "draft"  # left as a draft (shared draft or internal note) for the agent to send


@dataclass(frozen=True)
class Reply:
    """A reply approved in ticketflow."""

    text: str
    reviewer: str = ""
    to: str | None = None  # the customer's address, for helpdesks whose replies are emails
    subject: str = ""


@dataclass(frozen=True)
class WriteResult:
    """What the helpdesk answered: the id of what was created (article, note), if any."""

    remote_id: str | None = None
    already_done: bool = False  # a retry found the earlier attempt's result and wrote nothing


@dataclass(frozen=True)
class CheckItem:
    """One line of ``ticketflow integrations check NAME``."""

    name: str
    ok: bool
    detail: str = ""


class Connector(ABC):
    """One helpdesk. Made once per process (``connectors.registry``) and shared by threads:
    the HTTP client is thread-safe, a connector keeps no other state."""

    kind: ClassVar[str]

    def __init__(self, name: str, config: ConnectorConfig) -> None:
        self.name = name
        self.config = config
        self.http = HelpdeskClient(config.url, self.auth_headers(), config.timeout_s, name)

    # --- inbound ------------------------------------------------------------------------

    @abstractmethod
    def verify(self, headers: Headers, raw_body: bytes, query: Mapping[str, str]) -> None:
        """Raise ``SignatureError`` unless the request comes from the helpdesk."""

    @abstractmethod
    def parse(self, headers: Headers, raw_body: bytes) -> InboundEvent | Ignored:
        """The event in the request (may fetch the ticket from the API when the webhook only
        carries a summary); ``MalformedEvent`` when the body cannot be read."""

    # --- outbound (called by the delivery worker for outbox rows) -----------------------

    @abstractmethod
    def write_triage(self, target: Target, labels: TriageLabels) -> WriteResult:
        """Write the labels as tags and fields per ``config.tags``/``fields``/``values``."""

    @abstractmethod
    def write_draft(self, target: Target, draft: Draft) -> WriteResult:
        """Offer the draft where the agent works (a shared draft, else an internal note
        marked as a ticketflow suggestion)."""

    @abstractmethod
    def write_reply(self, target: Target, reply: Reply, mode: ReplyMode) -> WriteResult:
        """Post the approved reply publicly, or leave it as a draft, per ``mode``."""

    @abstractmethod
    def check(self) -> list[CheckItem]:
        """Verify the credentials and the field mapping against the live helpdesk."""

    # --- helpers for subclasses ---------------------------------------------------------

    @abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """The headers that authenticate every API request (the secret goes only here)."""

    def close(self) -> None:
        self.http.close()

    def tags_for(self, labels: TriageLabels) -> list[str]:
        """``config.tags`` as tag strings: "<prefix><label>-<value>", lower-case, no spaces."""
        out = []
        for label in self.config.tags:
            value = re.sub(r"[^a-z0-9_-]+", "_", labels.value(label).lower())
            out.append(f"{self.config.tag_prefix}{label.replace('_', '-')}-{value}")
        return out

    def fields_for(self, labels: TriageLabels) -> dict[str, Any]:
        """``config.fields``: helpdesk field -> value, mapped through ``config.values``."""
        out: dict[str, Any] = {}
        for label, helpdesk_field in self.config.fields.items():
            value = labels.value(label)
            out[helpdesk_field] = self.config.values.get(label, {}).get(value, value)
        return out

    def mode(self) -> ReplyMode:
        return ReplyMode(self.config.reply_mode)


NOTE_TITLE = "ticketflow suggestion"
_MARKER = re.compile(r"\[ticketflow:([A-Za-z0-9_.:#/-]{1,200})\]")


def marker(key: str) -> str:
    """The tag a note carries so that a retry can find it: ``[ticketflow:<key>]``."""
    return f"[ticketflow:{key}]"


def find_marker(texts: list[str], key: str) -> bool:
    """Whether one of the helpdesk's notes already carries this write's marker."""
    return any(key in _MARKER.findall(t or "") for t in texts)


def draft_note(draft: Draft, key: str) -> str:
    """An internal note that says plainly it is ticketflow's suggestion, not a sent reply."""
    lines = [f"{NOTE_TITLE} (not sent to the customer):", "", draft.text.strip(), ""]
    if draft.warnings:
        lines += ["Check before sending: " + "; ".join(draft.warnings), ""]
    if draft.review_url:
        lines.append(f"Review in ticketflow: {draft.review_url}")
    lines.append(marker(key))
    return "\n".join(lines)


def reply_draft_note(reply: Reply, key: str) -> str:
    """An approved reply left for the agent to send (reply mode ``draft``)."""
    who = f" by {reply.reviewer}" if reply.reviewer else ""
    return f"ticketflow: reply approved{who}, ready to send:\n\n{reply.text.strip()}\n\n" + marker(
        key
    )


def same_text(a: str, b: str) -> bool:
    """Whether two replies say the same (helpdesks re-wrap text and turn it into HTML)."""
    return (
        " ".join(html_to_text(a).split()).casefold() == " ".join(html_to_text(b).split()).casefold()
    )


def html_to_text(text: str) -> str:
    """A helpdesk's HTML body as plain text: line breaks kept, tags dropped, entities read."""
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>", "\n", text or "")
    text = html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\xa0", " ")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def text_to_html(text: str) -> str:
    """Plain text as HTML for helpdesks that store HTML bodies: escaped, lines kept."""
    return "<br>".join(html.escape(line) for line in (text or "").split("\n"))


def json_object(raw_body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or ``MalformedEvent`` saying why not."""
    try:
        payload = json.loads(raw_body)
    except ValueError:
        raise MalformedEvent("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise MalformedEvent("the body is not a JSON object")
    return payload


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time ("2024-01-02T03:04:05Z") or a Unix timestamp; None otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def probe(connector: Connector, name: str, path: str, say: str = "") -> tuple[CheckItem, Any]:
    """GET ``path`` for ``check``: a passed item and the JSON answer, or a failed item."""
    try:
        answer = connector.http.json("GET", path)
    except TicketflowError as err:
        return CheckItem(name, False, str(err)), None
    return CheckItem(name, True, say), answer


def secret_item(connector: Connector) -> CheckItem:
    ok = bool(connector.config.webhook_secret.get_secret_value())
    return CheckItem("webhook secret", ok, "" if ok else "webhook_secret is not set")


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (payloads are untrusted)."""
    return value if isinstance(value, dict) else {}
