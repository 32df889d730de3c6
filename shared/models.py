"""The schema: SQLModel tables and their API variants side by side.

Each entity reads Base (shared fields) -> Create (the payload a client sends) -> Table -> Public
(what the API returns), so every field is declared once.

The database is the source of truth. A ticket row exists before its queue message; a triage
result is unique per (ticket, revision) so a redelivered message can never add a second one;
reviews keep reviewers' edits and corrected labels because they are training data.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import EmailStr, field_validator
from sqlalchemy import JSON, Column, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.config import default


def utcnow() -> datetime:
    return datetime.now(UTC)


class TicketStatus(StrEnum):
    queued = "queued"
    processing = "processing"
    triaged = "triaged"
    approved = "approved"
    rejected = "rejected"
    failed = "failed"


class ReviewDecision(StrEnum):
    approve = "approve"
    edit = "edit"
    reject = "reject"


SOURCE_RE = re.compile(r"[A-Za-z0-9_.:-]+")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")  # BCP 47 style: en, pt-BR, zh-Hant
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


def storable_text(value: Any) -> Any:
    """Reject text a database cannot hold, at the edge, so it is a 422 and not a failed insert.

    PostgreSQL refuses NUL characters, and a lone surrogate (valid in a JSON string, not in
    UTF-8) cannot be encoded by any driver.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL (\\x00) characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text (it holds a lone surrogate)") from None
    return value


# --- Tickets ---------------------------------------------------------------------------------

# A ticket's body is its conversation, oldest message first, joined by this line. The email
# channel writes it; the prompt builder and the classifier split on it.
THREAD_SEPARATOR = "\n\n---\n\n"
# A line of dashes (or look-alikes) inside one message would read as that separator.
_RULE_LINE = re.compile(r"(?m)^[ \t]*[-\u2010-\u2015\u2212\ufe58\ufe63\uff0d_=*]{3,}[ \t]*$")


def escape_separator(message: str) -> str:
    """One message's text with any separator-like line spaced out ("- - -"), so only the
    separators ticketflow writes between messages split a conversation."""
    return _RULE_LINE.sub(lambda m: " ".join(m.group(0).strip()), message)


# Fields a producer supplies; shared by the create payload and the table.
class TicketBase(SQLModel):
    source: str = Field(default="api", min_length=1, max_length=64, index=True)
    external_id: str | None = Field(default=None, max_length=512)
    customer_email: str | None = Field(default=None, max_length=320, index=True)
    customer_name: str | None = Field(default=None, max_length=200)
    subject: str = Field(default="", max_length=1000)
    body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime | None = None


# POST /tickets payload: validated at the edge, before anything is stored.
class TicketCreate(TicketBase):
    source: str = Field(default="api", min_length=1, max_length=64)
    customer_email: EmailStr | None = Field(default=None, max_length=320)
    body: str = Field(min_length=1)  # each channel enforces TICKETFLOW_MAX_BODY_CHARS

    _storable = field_validator("*")(storable_text)

    @field_validator("source")
    @classmethod
    def _source_is_a_name(cls, v: str) -> str:
        if not SOURCE_RE.fullmatch(v):
            raise ValueError("source may only hold letters, digits and . _ : -")
        return v

    @field_validator("external_id")
    @classmethod
    def _blank_id_is_none(cls, v: str | None) -> str | None:
        # A blank id would make every blank-id ticket of a source "the same" ticket.
        return v if v is not None and v.strip() else None

    @field_validator("received_at")
    @classmethod
    def _assume_utc(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return None
        v = v.replace(tzinfo=UTC) if v.tzinfo is None else v
        try:
            v.astimezone(UTC)
        except OverflowError:
            raise ValueError(
                "received_at is out of range (before year 1 or after 9999 UTC)"
            ) from None
        return v

    @field_validator("body")
    @classmethod
    def _body_has_text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("body must contain text, not only whitespace")
        return v


# Table: one row per customer request, whatever channel it came from.
class Ticket(TicketBase, table=True):
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_ticket_source_external"),
        # The relay's "to send" scan and recovery's candidates both filter on these two.
        Index("ix_ticket_dispatch", "status", "enqueued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: TicketStatus = Field(default=TicketStatus.queued, index=True, sa_type=String(16))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    # Bumped each time the ticket must be triaged again (new message in a thread, re-process).
    revision: int = 1
    queue: str = Field(default=default("queue"), max_length=64)
    # When a relay claimed the current revision for publishing (see dispatch/); empty: to send.
    enqueued_at: datetime | None = None
    # The worker holding the ticket's message, and until when: renewed while it works on it,
    # so recovery re-sends only tickets nobody holds (dispatch/recovery.py).
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    # Trust of input (producer/email/trust.py): whether the e-mail sender was authenticated;
    # None where a channel asserts the customer itself (API integrations, backfill). An
    # unverified sender's ticket gets no customer history in its prompt.
    sender_verified: bool | None = None
    # What a reviewer must see before trusting the ticket ("possible spoof: ..."), and the
    # ticket it concerns (not a foreign key: erasing one ticket must not be blocked by another).
    flag: str | None = Field(default=None, max_length=500)
    linked_ticket_id: int | None = None
    # The reviewer who opened it and until when (review/claims.py): nobody else is offered it
    # meanwhile, and a decision by someone else is a 409. Expired: free again.
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_until: datetime | None = None


# GET /tickets/{id}: the ticket with its current triage result and review.
class TicketPublic(TicketBase):
    id: int
    status: TicketStatus
    attempts: int
    last_error: str | None
    revision: int
    created_at: datetime
    updated_at: datetime
    sender_verified: bool | None = None
    flag: str | None = None
    linked_ticket_id: int | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    triage: TriagePublic | None = None
    review: ReviewPublic | None = None
    # The approved reply on its way to the customer (newest first), with its status.
    delivery: OutboundPublic | None = None
    # While a draft awaits review: where approving would send it, and under which subject.
    reply_preview: ReplyPreview | None = None


# GET /tickets, GET /review: one page of tickets.
class TicketPage(SQLModel):
    items: list[TicketPublic]
    total: int
    limit: int
    offset: int


# --- Triage results --------------------------------------------------------------------------


# Fields of a triage result that the API shows; shared by the table and the read model.
class TriageResultBase(SQLModel):
    revision: int = 1
    category: str = Field(max_length=100, index=True)
    category_confidence: float
    priority: str = Field(max_length=32)
    priority_confidence: float
    sentiment: str = Field(max_length=32)
    sentiment_confidence: float
    language: str = Field(max_length=16)
    language_confidence: float
    needs_human_triage: bool = False
    alternatives: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    draft_reply: str = Field(sa_column=Column(Text, nullable=False))
    citations: list[Any] = Field(default_factory=list, sa_column=Column(JSON))
    # Guardrail findings (worker/drafting/guardrails.py), each {code, message, blocking, fixed},
    # and the approved reply offered as an alternative (worker/drafting/suggestions.py).
    warnings: list[Any] = Field(default_factory=list, sa_column=Column(JSON))
    suggestion: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    classifier_model: str = Field(max_length=300)
    classifier_version: str = Field(max_length=100)
    draft_model: str = Field(max_length=300)
    queue_ms: int = 0
    classify_ms: int = 0
    draft_ms: int = 0
    created_at: datetime = Field(default_factory=utcnow)


# No create payload: only workers write results (``worker.pipeline.ticket_state.store``).


# Table: what a worker concluded for one revision of a ticket.
class TriageResult(TriageResultBase, table=True):
    __tablename__ = "triage_result"
    __table_args__ = (UniqueConstraint("ticket_id", "revision", name="uq_result_ticket_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    engine_instance: str = Field(max_length=64, description="Identifies one loaded engine.")
    worker: str = Field(max_length=200)
    batch_size: int = 1
    # The chat handed to the draft model (personal data as placeholders), shown to reviewers on
    # demand; empty for results stored before it was kept and for canned replies.
    prompt: list[Any] | None = Field(default=None, sa_column=Column(JSON))


# The triage part of GET /tickets/{id}.
class TriagePublic(TriageResultBase):
    pass


# --- Reviews ---------------------------------------------------------------------------------


# Fields of a decision shared by the payload, the table and the read model.
class ReviewBase(SQLModel):
    decision: ReviewDecision = Field(sa_type=String(16))
    reviewer: str = Field(max_length=200)
    corrected_category: str | None = Field(default=None, max_length=100)
    corrected_priority: str | None = Field(default=None, max_length=32)
    corrected_sentiment: str | None = Field(default=None, max_length=32)
    corrected_language: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, max_length=5000)


# POST /tickets/{id}/review payload.
class ReviewCreate(ReviewBase):
    # The revision whose draft the reviewer read (``triage.revision``): if the ticket was
    # triaged again meanwhile, approving would send a draft nobody has seen.
    revision: int = Field(ge=1)
    # Ignored by the API, which records the logged-in user (or ``key:NAME``); still accepted
    # so older clients keep working. Code that calls ``submit_review`` directly may set it.
    reviewer: str | None = Field(default=None, max_length=200)  # type: ignore[assignment]
    edited_reply: str | None = Field(default=None, max_length=50_000)

    _storable = field_validator("*")(storable_text)

    @field_validator("corrected_language")
    @classmethod
    def _language_code(cls, v: str | None) -> str | None:
        if v is not None and not LANGUAGE_RE.fullmatch(v):
            raise ValueError("corrected_language must be a language code such as 'en' or 'pt-BR'")
        return v


# Table: the human decision. Nothing reaches a customer without one.
class Review(ReviewBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    triage_result_id: int = Field(foreign_key="triage_result.id")
    final_reply: str | None = Field(default=None, sa_column=Column(Text))
    edited: bool = False
    note: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)


# The review part of GET /tickets/{id}.
class ReviewPublic(ReviewBase):
    id: int
    final_reply: str | None
    edited: bool
    created_at: datetime


# --- Email threads and quarantine (intake channels) ------------------------------------------


# Tables only below: the API neither creates nor shows them directly.


# Table: each message of a ticket's conversation; the first one is the ticket body.
class TicketMessage(SQLModel, table=True):
    __tablename__ = "ticket_message"
    __table_args__ = (UniqueConstraint("message_id", name="uq_ticket_message_message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    message_id: str | None = Field(default=None, max_length=998)
    sender: str | None = Field(default=None, max_length=320)
    subject: str = Field(default="", max_length=1000)
    body: str = Field(sa_column=Column(Text, nullable=False))
    body_original: str = Field(sa_column=Column(Text, nullable=False))
    attachments: list[Any] = Field(default_factory=list, sa_column=Column(JSON))
    received_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


# Table: input that could not be turned into a ticket, kept whole for a person to look at.
class QuarantinedInput(SQLModel, table=True):
    __tablename__ = "quarantined_input"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64, index=True)
    origin: str = Field(default="", max_length=1000, description="Mailbox/file and position.")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


# --- Knowledge base (grounded drafts) --------------------------------------------------------


# Table: one retrievable passage of a help article.
class KbPassage(SQLModel, table=True):
    __tablename__ = "kb_passage"
    __table_args__ = (UniqueConstraint("doc_id", "chunk", name="uq_kb_doc_chunk"),)

    id: int | None = Field(default=None, primary_key=True)
    doc_id: str = Field(max_length=300, index=True)
    chunk: int = 0
    title: str = Field(default="", max_length=500)
    url: str | None = Field(default=None, max_length=2000)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


# --- Delivery (delivery/): approved replies and webhook events, sent from the outbox -----------


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its hold time or for the relay
    sending = "sending"  # a delivery worker holds it (until ``lease_expires_at``)
    sent = "sent"
    failed = "failed"  # a permanent error, or out of attempts: ``last_error`` says which


class DeliveryChannel(StrEnum):
    email = "email"
    webhook = "webhook"
    helpdesk = "helpdesk"  # posted in the helpdesk the ticket came from (connectors/)


# Fields every outbox table shares: the relay claims rows by ``enqueued_at`` (empty: to
# publish, once ``send_after`` passed), a delivery worker holds one by ``lease_expires_at``.
class OutboxFields(SQLModel):
    status: DeliveryStatus = Field(default=DeliveryStatus.pending, sa_type=String(16))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)  # a mixin: no shared Column
    send_after: datetime = Field(default_factory=utcnow)
    enqueued_at: datetime | None = None
    lease_expires_at: datetime | None = None
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# Fields of an outbound reply that the API shows: what will be (or was) sent, and its status.
class OutboundBase(SQLModel):
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    revision: int = 1
    channel: DeliveryChannel = Field(sa_type=String(16))
    recipient: str | None = Field(default=None, max_length=1000)
    subject: str = Field(default="", max_length=1000)
    body: str = Field(sa_column=Column(Text, nullable=False))
    # The SMTP Message-ID (fixed when the row is written, so a re-send carries the same one)
    # or the webhook's Idempotency-Key.
    remote_id: str = Field(max_length=998)
    in_reply_to: str | None = Field(default=None, max_length=998)
    reference_ids: str | None = Field(default=None, sa_column=Column(Text))  # space-separated


# Table: one approved reply to send, written in the review's transaction (the outbox).
class OutboundMessage(OutboundBase, OutboxFields, table=True):
    __tablename__ = "outbound_message"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbound_idempotency_key"),
        Index("ix_outbound_dispatch", "status", "enqueued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # "ticket-<id>-rev-<revision>": one reply per reviewed revision, however often it is sent.
    idempotency_key: str = Field(max_length=200)


# The delivery part of GET /tickets/{id} and of the review queue.
class OutboundPublic(OutboundBase):
    id: int
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    send_after: datetime
    sent_at: datetime | None
    created_at: datetime


# Where approving a triaged ticket's draft would send it (the text is ``triage.draft_reply``).
class ReplyPreview(SQLModel):
    channel: DeliveryChannel
    recipient: str | None
    subject: str


# Table: one event for one webhook endpoint, and what happened to it (the delivery log).
class WebhookDelivery(OutboxFields, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("delivery_id", name="uq_webhook_delivery_id"),
        Index("ix_webhook_dispatch", "status", "enqueued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event: str = Field(max_length=64)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    url: str = Field(max_length=2000)
    # Sent as the Idempotency-Key and Ticketflow-Delivery headers: the same on every retry.
    delivery_id: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    response_status: int | None = None


# Table: one write-back to a helpdesk (connectors/): the labels or the draft of one triaged
# revision, written in the worker's result transaction and sent by ``ticketflow deliver``.
# Approved replies to helpdesk tickets are ``outbound_message`` rows (channel ``helpdesk``).
class ConnectorWrite(OutboxFields, table=True):
    __tablename__ = "connector_write"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_connector_write_key"),
        Index("ix_connector_write_dispatch", "status", "enqueued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(max_length=64)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    revision: int = 1
    kind: str = Field(max_length=16)  # "triage" or "draft"
    # "<connector>:<helpdesk ticket>:<kind>:rev-<n>": the same on every attempt.
    idempotency_key: str = Field(max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    remote_id: str | None = Field(default=None, max_length=200)  # what the helpdesk created
    response_status: int | None = None


# --- Reply examples (suggestions from approved replies) -------------------------------------


# Table: a reply a person approved (review) or wrote for reuse (template), with the ticket text
# it answered; workers embed the text and offer the reply for similar tickets. Never a rejection.
class ReplyExample(SQLModel, table=True):
    __tablename__ = "reply_example"
    __table_args__ = (UniqueConstraint("template_id", name="uq_reply_example_template"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    template_id: str | None = Field(default=None, max_length=300)
    category: str = Field(default="", max_length=100)
    language: str = Field(max_length=16, index=True)
    customer_name: str | None = Field(default=None, max_length=200)
    ticket_text: str = Field(sa_column=Column(Text, nullable=False))
    reply: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


# --- Access (access/): people, machine keys, sessions, the audit trail --------------------------


class Role(StrEnum):
    reviewer = "reviewer"  # reads the queue and decides
    admin = "admin"  # everything, including the audit trail


class Scope(StrEnum):
    intake = "intake"  # POST /tickets
    read = "read"  # tickets, queue, taxonomy, insights, delivery status
    review = "review"  # approve, edit, reject, undo
    admin = "admin"  # audit trail, key management


# Table: a person who logs in to the review page. The password is an argon2 hash.
class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    __table_args__ = (UniqueConstraint("username", name="uq_app_user_username"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100)
    password_hash: str = Field(max_length=200)
    role: Role = Field(default=Role.reviewer, sa_type=String(16))
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow)


# Table: a machine's key. Only a SHA-256 of the secret is kept; ``prefix`` (shown in listings
# and part of the key itself) finds the row without scanning every hash.
class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    __table_args__ = (UniqueConstraint("prefix", name="uq_api_key_prefix"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    prefix: str = Field(max_length=32)
    secret_hash: str = Field(max_length=64)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


# Table: a logged-in browser. The cookie holds a random id; only its SHA-256 is stored, so a
# leaked table does not hand out sessions.
class UserSession(SQLModel, table=True):
    __tablename__ = "user_session"
    __table_args__ = (UniqueConstraint("id_hash", name="uq_user_session_id_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    id_hash: str = Field(max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    csrf_token: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    last_seen_at: datetime = Field(default_factory=utcnow)


# Table: who did what, when: logins, views, claims, decisions, key changes. ``ticket_id`` is
# not a foreign key: erasing a ticket must not be blocked by (or erase) its trail.
class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_kind: str = Field(max_length=16)  # user, key, anonymous, cli
    actor_name: str = Field(max_length=200, index=True)
    action: str = Field(max_length=64, index=True)
    ticket_id: int | None = Field(default=None, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# GET /audit: one event.
class AuditEventPublic(SQLModel):
    id: int
    at: datetime
    actor_kind: str
    actor_name: str
    action: str
    ticket_id: int | None
    detail: dict[str, Any]


# TicketPublic names the read models of later sections.
TicketPublic.model_rebuild()
