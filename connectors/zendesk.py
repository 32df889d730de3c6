"""Zendesk: ticket event webhooks in, Support API v2 out.

Inbound (https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/): a
webhook subscribed to ``zen:event-type:ticket.created`` and ``ticket.comment_added``. Signed
(https://developer.zendesk.com/documentation/webhooks/verifying/): ``X-Zendesk-Webhook-
Signature`` is base64(HMAC-SHA256(signing secret, timestamp + body)) with the timestamp in
``X-Zendesk-Webhook-Signature-Timestamp``; older than 15 minutes is refused (a replay). The
payload is a summary, so the connector fetches the ticket and its comments (with their authors)
from the API: an end user's public comment is a customer message, an agent's public comment a
reply sent in Zendesk (the review), a private comment is ignored.

Outbound (``Authorization: Basic base64(email/token:TOKEN)``): ``PUT /api/v2/tickets/{id}.json``
with ``additional_tags`` and ``custom_fields`` (labels; idempotent), a private comment (the
draft, marked as a ticketflow suggestion) or a public one (the approved reply). Zendesk has
no idempotency key for updates: a retry first lists the ticket's comments and counts the write
as done when it finds the draft's marker or a public comment with the reply's text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from connectors.base import (
    CheckItem,
    Connector,
    Draft,
    EventKind,
    Headers,
    Ignored,
    InboundEvent,
    MalformedEvent,
    Reply,
    ReplyMode,
    SignatureError,
    Target,
    TriageLabels,
    WriteResult,
    draft_note,
    find_marker,
    json_object,
    parse_time,
    probe,
    reply_draft_note,
    same_text,
    secret_item,
)

MAX_AGE_S = 900
CREATED = "zen:event-type:ticket.created"
COMMENT_ADDED = "zen:event-type:ticket.comment_added"
# Fields of the ticket object itself; a mapped field that is all digits is a custom field id.
STANDARD = {"priority", "type", "status", "group_id", "assignee_id", "subject"}


class ZendeskConnector(Connector):
    kind = "zendesk"

    def auth_headers(self) -> dict[str, str]:
        pair = f"{self.config.user}/token:{self.config.secret()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def verify(self, headers: Headers, raw_body: bytes, query: Mapping[str, str]) -> None:
        secret = self.config.webhook_secret.get_secret_value()
        if not secret:
            raise SignatureError("no webhook_secret (the webhook's signing secret) is configured")
        stamp = headers.get("x-zendesk-webhook-signature-timestamp", "")
        given = headers.get("x-zendesk-webhook-signature", "")
        mac = hmac.new(secret.encode(), stamp.encode() + raw_body, hashlib.sha256).digest()
        if not stamp or not hmac.compare_digest(given.encode(), base64.b64encode(mac)):
            raise SignatureError("missing or invalid X-Zendesk-Webhook-Signature")
        when = parse_time(stamp)
        if when is None or abs(time.time() - when.timestamp()) > MAX_AGE_S:
            raise SignatureError("the signature timestamp is missing or too old (a replay?)")

    def parse(self, headers: Headers, raw_body: bytes) -> InboundEvent | Ignored:
        payload = json_object(raw_body)
        kind = payload.get("type")
        detail = payload.get("detail")
        if not isinstance(kind, str) or not isinstance(detail, dict) or not detail.get("id"):
            raise MalformedEvent("not a Zendesk ticket event: no type or detail.id")
        if kind not in (CREATED, COMMENT_ADDED):
            return Ignored("unsupported_event")
        ticket_ref = str(detail["id"])
        ticket = self.http.json("GET", f"/api/v2/tickets/{ticket_ref}.json").get("ticket", {})
        order = "asc" if kind == CREATED else "desc"
        found = self.http.json(
            "GET",
            f"/api/v2/tickets/{ticket_ref}/comments.json",
            params={"include": "users", "sort_order": order},
        )
        comments = found.get("comments") or []
        users = {u.get("id"): u for u in found.get("users") or [] if isinstance(u, dict)}
        if kind == CREATED:
            comment = comments[0] if comments else None
        else:
            wanted = (payload.get("event") or {}).get("comment", {}).get("id")
            comment = next((c for c in comments if str(c.get("id")) == str(wanted)), None)
        if comment is None:
            return Ignored("comment_not_found")
        if not comment.get("public", True):
            return Ignored("internal_note")
        author = users.get(comment.get("author_id"), {})
        requester = users.get(ticket.get("requester_id"), {})
        common: dict[str, Any] = {
            "ticket_ref": ticket_ref,
            "message_ref": str(comment.get("id")),
            "body": str(comment.get("plain_body") or comment.get("body") or ""),
            "subject": str(ticket.get("subject") or detail.get("subject") or ""),
            "received_at": parse_time(comment.get("created_at")),
        }
        if author.get("role") in ("agent", "admin"):
            who = author.get("email") or author.get("name")
            return InboundEvent(kind=EventKind.agent_reply, author=who, **common)
        return InboundEvent(
            kind=EventKind.new_ticket if kind == CREATED else EventKind.customer_message,
            customer_email=requester.get("email") or author.get("email"),
            customer_name=requester.get("name") or author.get("name"),
            **common,
        )

    def write_triage(self, target: Target, labels: TriageLabels) -> WriteResult:
        update: dict[str, Any] = {"additional_tags": self.tags_for(labels)}
        custom = []
        for field, value in self.fields_for(labels).items():
            if field.isdigit():
                custom.append({"id": int(field), "value": value})
            else:
                update[field] = value
        if custom:
            update["custom_fields"] = custom
        self.http.request(
            "PUT", f"/api/v2/tickets/{target.ticket_ref}.json", json={"ticket": update}
        )
        return WriteResult()

    def write_draft(self, target: Target, draft: Draft) -> WriteResult:
        return self._comment(target, draft_note(draft, target.key), public=False)

    def write_reply(self, target: Target, reply: Reply, mode: ReplyMode) -> WriteResult:
        if mode == ReplyMode.draft:
            return self._comment(target, reply_draft_note(reply, target.key), public=False)
        if target.retry:
            for c in self._comments(target.ticket_ref):
                if c.get("public") and same_text(str(c.get("body") or ""), reply.text):
                    return WriteResult(str(c.get("id")), already_done=True)
        return self._comment(target, reply.text, public=True)

    def check(self) -> list[CheckItem]:
        item, me = probe(self, "credentials", "/api/v2/users/me.json")
        user = (me or {}).get("user") or {}
        if not item.ok or not user.get("id") or user.get("role") == "end-user":
            return [item if not item.ok else CheckItem("credentials", False, "not an agent")]
        items = [CheckItem("credentials", True, f"signed in as {user.get('email', '?')}")]
        ids = {f for f in self.config.fields.values() if f.isdigit()}
        if ids:
            item, found = probe(self, "fields", "/api/v2/ticket_fields.json")
            have = {str(f.get("id")) for f in (found or {}).get("ticket_fields", [])}
            items += [item] if not item.ok else []
            for field in sorted(ids) if item.ok else []:
                ok = field in have
                items.append(CheckItem(f"field {field}", ok, "" if ok else "no such ticket field"))
        return [*items, secret_item(self)]

    def _comment(self, target: Target, body: str, public: bool) -> WriteResult:
        if (
            not public
            and target.retry
            and find_marker(
                [str(c.get("body") or "") for c in self._comments(target.ticket_ref)], target.key
            )
        ):
            return WriteResult(already_done=True)
        answer = self.http.json(
            "PUT",
            f"/api/v2/tickets/{target.ticket_ref}.json",
            json={"ticket": {"comment": {"body": body, "public": public}}},
        )
        audit = (answer or {}).get("audit", {}) if isinstance(answer, dict) else {}
        return WriteResult(str(audit["id"]) if audit.get("id") else None)

    def _comments(self, ticket_ref: str) -> list[dict[str, Any]]:
        found = self.http.json(
            "GET", f"/api/v2/tickets/{ticket_ref}/comments.json", params={"sort_order": "desc"}
        )
        return [c for c in (found or {}).get("comments", []) if isinstance(c, dict)]
