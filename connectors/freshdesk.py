"""Freshdesk: automation "Trigger Webhook" in, API v2 out.

Inbound (https://support.freshdesk.com/support/solutions/articles/132589): an automation rule's
"Trigger Webhook" action POSTs the JSON body docs/connectors/freshdesk.md gives,
``{"ticket_id": {{ticket.id}}, "event": "ticket_created" | "conversation_added"}``. Freshdesk
does not sign webhooks, so the rule sends the shared secret in the ``X-Ticketflow-Secret``
header (a custom header of the action) or, where headers cannot be set, as ``?secret=`` in the
URL. The connector fetches the ticket (``include=requester``) and, for a new conversation, the
ticket's conversations: the newest one decides (incoming: the customer; outgoing and public: an
agent's reply, the review; private: ignored).

Outbound (``Authorization: Basic base64(API_KEY:X)``, https://developers.freshdesk.com/api/):
``PUT /api/v2/tickets/{id}`` (tags merged with the ticket's own, since Freshdesk replaces the
list; ``cf_*`` custom fields; priority, group...), ``POST /api/v2/tickets/{id}/notes`` (private
note: the draft) and ``POST /api/v2/tickets/{id}/reply`` (the approved reply). No idempotency
key: a retry reads the conversations first and finds the note's marker or the reply's text.
"""

from __future__ import annotations

import base64
import hmac
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
    html_to_text,
    json_object,
    parse_time,
    probe,
    reply_draft_note,
    same_text,
    secret_item,
    text_to_html,
)

SECRET_HEADER = "x-ticketflow-secret"
EVENTS = ("ticket_created", "conversation_added")


class FreshdeskConnector(Connector):
    kind = "freshdesk"

    def auth_headers(self) -> dict[str, str]:
        pair = f"{self.config.secret()}:X".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def verify(self, headers: Headers, raw_body: bytes, query: Mapping[str, str]) -> None:
        secret = self.config.webhook_secret.get_secret_value()
        if not secret:
            raise SignatureError("no webhook_secret (the shared secret) is configured")
        given = headers.get(SECRET_HEADER) or query.get("secret") or ""
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise SignatureError("missing or wrong shared secret (X-Ticketflow-Secret header)")

    def parse(self, headers: Headers, raw_body: bytes) -> InboundEvent | Ignored:
        payload = json_object(raw_body)
        ticket_ref = str(payload.get("ticket_id") or "").strip()
        if not ticket_ref.isdigit():
            raise MalformedEvent("ticket_id must be the Freshdesk ticket number")
        event = payload.get("event")
        if event not in EVENTS:
            return Ignored("unsupported_event")
        ticket = self.http.json(
            "GET", f"/api/v2/tickets/{ticket_ref}", params={"include": "requester"}
        )
        requester = ticket.get("requester") or {}
        common: dict[str, Any] = {
            "ticket_ref": ticket_ref,
            "subject": str(ticket.get("subject") or ""),
        }
        if event == "ticket_created":
            return InboundEvent(
                kind=EventKind.new_ticket,
                message_ref="ticket",
                body=str(
                    ticket.get("description_text") or html_to_text(ticket.get("description") or "")
                ),
                customer_email=requester.get("email"),
                customer_name=requester.get("name"),
                received_at=parse_time(ticket.get("created_at")),
                **common,
            )
        conversations = self._conversations(ticket_ref)
        if not conversations:
            return Ignored("no_conversation")
        newest = conversations[-1]
        if newest.get("private"):
            return Ignored("internal_note")
        body = str(newest.get("body_text") or html_to_text(newest.get("body") or ""))
        common.update(
            message_ref=str(newest.get("id")),
            body=body,
            received_at=parse_time(newest.get("created_at")),
        )
        if newest.get("incoming"):
            return InboundEvent(
                kind=EventKind.customer_message,
                customer_email=requester.get("email") or newest.get("from_email"),
                customer_name=requester.get("name"),
                **common,
            )
        return InboundEvent(kind=EventKind.agent_reply, author=newest.get("from_email"), **common)

    def write_triage(self, target: Target, labels: TriageLabels) -> WriteResult:
        update: dict[str, Any] = {}
        tags = self.tags_for(labels)
        if tags:
            ticket = self.http.json("GET", f"/api/v2/tickets/{target.ticket_ref}")
            current = [t for t in ticket.get("tags") or [] if isinstance(t, str)]
            update["tags"] = current + [t for t in tags if t not in current]
        custom = {}
        for field, value in self.fields_for(labels).items():
            if field.startswith("cf_"):
                custom[field] = value
            else:
                update[field] = value
        if custom:
            update["custom_fields"] = custom
        if update:
            self.http.request("PUT", f"/api/v2/tickets/{target.ticket_ref}", json=update)
        return WriteResult()

    def write_draft(self, target: Target, draft: Draft) -> WriteResult:
        return self._note(target, draft_note(draft, target.key))

    def write_reply(self, target: Target, reply: Reply, mode: ReplyMode) -> WriteResult:
        if mode == ReplyMode.draft:
            return self._note(target, reply_draft_note(reply, target.key))
        if target.retry:
            for c in self._conversations(target.ticket_ref):
                text = str(c.get("body_text") or c.get("body") or "")
                if not c.get("incoming") and not c.get("private") and same_text(text, reply.text):
                    return WriteResult(str(c.get("id")), already_done=True)
        answer = self.http.json(
            "POST",
            f"/api/v2/tickets/{target.ticket_ref}/reply",
            json={"body": text_to_html(reply.text)},
        )
        return WriteResult(str(answer.get("id")) if isinstance(answer, dict) else None)

    def check(self) -> list[CheckItem]:
        item, me = probe(self, "credentials", "/api/v2/agents/me")
        if not item.ok:
            return [item]
        who = ((me or {}).get("contact") or {}).get("email", "?")
        items = [CheckItem("credentials", True, f"signed in as {who}")]
        wanted = {f for f in self.config.fields.values() if f.startswith("cf_")}
        if wanted:
            item, fields = probe(self, "fields", "/api/v2/ticket_fields")
            have = {f.get("name") for f in fields or [] if isinstance(f, dict)}
            items += [item] if not item.ok else []
            for field in sorted(wanted) if item.ok else []:
                ok = field in have
                items.append(CheckItem(f"field {field}", ok, "" if ok else "no such ticket field"))
        return [*items, secret_item(self)]

    def _note(self, target: Target, text: str) -> WriteResult:
        if target.retry and find_marker(
            [
                str(c.get("body_text") or c.get("body") or "")
                for c in self._conversations(target.ticket_ref)
            ],
            target.key,
        ):
            return WriteResult(already_done=True)
        answer = self.http.json(
            "POST",
            f"/api/v2/tickets/{target.ticket_ref}/notes",
            json={"body": text_to_html(text), "private": True},
        )
        return WriteResult(str(answer.get("id")) if isinstance(answer, dict) else None)

    def _conversations(self, ticket_ref: str) -> list[dict[str, Any]]:
        found = self.http.json(
            "GET", f"/api/v2/tickets/{ticket_ref}/conversations", params={"per_page": 100}
        )
        rows = [c for c in found or [] if isinstance(c, dict)]
        return sorted(rows, key=lambda c: (str(c.get("created_at") or ""), int(c.get("id") or 0)))
