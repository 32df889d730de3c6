"""Chatwoot: account webhooks in, Application API out.

Inbound (https://www.chatwoot.com/docs/product/others/webhook-events): a webhook subscribed to
``message_created``. Chatwoot signs webhook deliveries with the webhook's secret:
``X-Chatwoot-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the timestamp
in ``X-Chatwoot-Timestamp``; older than 15 minutes is refused. For Chatwoot versions that do
not sign, ``options = {verify = "url_token"}`` accepts the shared secret as ``?token=`` in the
URL instead. A contact's (``message_type`` incoming) message opens or continues a ticket (the
conversation's display id), an agent's public outgoing message is a reply sent in Chatwoot
(the review), private notes and activity messages are ignored.

Outbound (header ``api_access_token: TOKEN``, https://developers.chatwoot.com/api-reference):
labels (``POST .../conversations/{id}/labels``, which replaces the list, so the current labels
are read first and merged), custom attributes (``POST .../conversations/{id}/custom_attributes``)
and messages (``POST .../conversations/{id}/messages``: ``private`` true for the draft, false
for the approved reply). A retry lists the conversation's messages first and finds the note's
marker or the reply's text.
"""

from __future__ import annotations

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
    as_dict,
    draft_note,
    find_marker,
    json_object,
    parse_time,
    probe,
    reply_draft_note,
    same_text,
    secret_item,
)
from shared.errors import PermanentError

MAX_AGE_S = 900


class ChatwootConnector(Connector):
    kind = "chatwoot"

    def auth_headers(self) -> dict[str, str]:
        return {"api_access_token": self.config.secret()}

    @property
    def base(self) -> str:
        if self.config.account_id is None:
            raise PermanentError(f"{self.name}: account_id is not configured")
        return f"/api/v1/accounts/{self.config.account_id}"

    def verify(self, headers: Headers, raw_body: bytes, query: Mapping[str, str]) -> None:
        secret = self.config.webhook_secret.get_secret_value()
        if not secret:
            raise SignatureError("no webhook_secret is configured for this connector")
        if self.config.options.get("verify") == "url_token":
            if not hmac.compare_digest(query.get("token", "").encode(), secret.encode()):
                raise SignatureError("missing or wrong ?token= in the webhook URL")
            return
        stamp = headers.get("x-chatwoot-timestamp", "")
        signed = stamp.encode() + b"." + raw_body
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        given = headers.get("x-chatwoot-signature", "")
        if not stamp or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureError("missing or invalid X-Chatwoot-Signature")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_AGE_S:
            raise SignatureError("the signature timestamp is too old (a replay?)")

    def parse(self, headers: Headers, raw_body: bytes) -> InboundEvent | Ignored:
        payload = json_object(raw_body)
        event = payload.get("event")
        if not isinstance(event, str):
            raise MalformedEvent("not a Chatwoot webhook: no event name")
        if event != "message_created":
            return Ignored("unsupported_event")
        conversation = payload.get("conversation")
        if (
            not isinstance(conversation, dict)
            or not conversation.get("id")
            or not payload.get("id")
        ):
            raise MalformedEvent("message_created without a message id or conversation id")
        if payload.get("private"):
            return Ignored("internal_note")
        sender = as_dict(payload.get("sender"))
        contact = as_dict(as_dict(conversation.get("meta")).get("sender"))
        common: dict[str, Any] = {
            "ticket_ref": str(conversation["id"]),
            "message_ref": str(payload["id"]),
            "body": str(payload.get("content") or ""),
            "subject": f"Chat conversation {conversation['id']}",
            "received_at": parse_time(payload.get("created_at")),
        }
        kind = payload.get("message_type")
        if kind == "incoming":
            return InboundEvent(
                kind=EventKind.customer_message,  # new ticket when the conversation is new
                customer_email=contact.get("email") or sender.get("email"),
                customer_name=contact.get("name") or sender.get("name"),
                **common,
            )
        if kind == "outgoing" and sender.get("type") == "user":
            who = sender.get("email") or sender.get("name")
            return InboundEvent(kind=EventKind.agent_reply, author=who, **common)
        return Ignored("not_a_conversation_message")  # activity, template, bot messages

    def write_triage(self, target: Target, labels: TriageLabels) -> WriteResult:
        path = f"{self.base}/conversations/{target.ticket_ref}"
        tags = self.tags_for(labels)
        if tags:
            current = self.http.json("GET", f"{path}/labels").get("payload") or []
            merged = list(current) + [t for t in tags if t not in current]
            self.http.request("POST", f"{path}/labels", json={"labels": merged})
        fields = self.fields_for(labels)
        if fields:
            self.http.request(
                "POST", f"{path}/custom_attributes", json={"custom_attributes": fields}
            )
        return WriteResult()

    def write_draft(self, target: Target, draft: Draft) -> WriteResult:
        return self._message(target, draft_note(draft, target.key), private=True)

    def write_reply(self, target: Target, reply: Reply, mode: ReplyMode) -> WriteResult:
        if mode == ReplyMode.draft:
            return self._message(target, reply_draft_note(reply, target.key), private=True)
        if target.retry:
            for m in self._messages(target.ticket_ref):
                public_out = m.get("message_type") in (1, "outgoing") and not m.get("private")
                if public_out and same_text(str(m.get("content") or ""), reply.text):
                    return WriteResult(str(m.get("id")), already_done=True)
        return self._message(target, reply.text, private=False)

    def check(self) -> list[CheckItem]:
        item, me = probe(self, "credentials", "/api/v1/profile")
        if not item.ok:
            return [item]
        items = [CheckItem("credentials", True, f"signed in as {(me or {}).get('email', '?')}")]
        if self.config.account_id is None:
            return [*items, CheckItem("account_id", False, "not configured")]
        wanted = set(self.config.fields.values())
        if wanted:
            item, found = probe(
                self, "fields", f"{self.base}/custom_attribute_definitions?attribute_model=0"
            )
            have = {d.get("attribute_key") for d in found or [] if isinstance(d, dict)}
            items += [item] if not item.ok else []
            for field in sorted(wanted) if item.ok else []:
                ok = field in have
                items.append(CheckItem(f"field {field}", ok, "" if ok else "no such attribute"))
        return [*items, secret_item(self)]

    def _message(self, target: Target, content: str, private: bool) -> WriteResult:
        if private and target.retry:
            texts = [str(m.get("content") or "") for m in self._messages(target.ticket_ref)]
            if find_marker(texts, target.key):
                return WriteResult(already_done=True)
        answer = self.http.json(
            "POST",
            f"{self.base}/conversations/{target.ticket_ref}/messages",
            json={"content": content, "message_type": "outgoing", "private": private},
        )
        return WriteResult(str(answer.get("id")) if isinstance(answer, dict) else None)

    def _messages(self, ticket_ref: str) -> list[dict[str, Any]]:
        found = self.http.json("GET", f"{self.base}/conversations/{ticket_ref}/messages")
        return [m for m in (found or {}).get("payload", []) if isinstance(m, dict)]
