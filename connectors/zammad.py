"""Zammad: trigger webhooks in, REST API v1 out.

Inbound (docs: https://admin-docs.zammad.org/en/latest/manage/webhook/payload.html): a trigger
"Action: Webhook" POSTs the default payload ``{"ticket": {...}, "article": {...}}``, signed
with ``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>`` when the webhook has an "HMAC SHA1
Signature Token" (required here: the connector's ``webhook_secret``). The article says who
wrote it: ``sender`` Customer (a new ticket, or a new message on one), Agent and not
``internal`` (a reply sent in Zammad: the review), anything else is ignored.

Outbound (https://docs.zammad.org/en/latest/api/intro.html), ``Authorization: Token
token=<token>``:
- labels: ``POST /api/v1/tags/add`` per tag (adding a present tag changes nothing) and
  ``PUT /api/v1/tickets/{id}`` with the mapped fields (idempotent by nature);
- draft: ``PUT /api/v1/tickets/{id}/shared_draft`` (a server-side draft the agent opens in
  the reply box; a PUT overwrites it, so a retry cannot duplicate it). The ticket's group
  needs "Shared Drafts" enabled;
- reply: ``POST /api/v1/ticket_articles`` (an email to the customer); on a retry the
  ticket's articles are read first and an Agent article with the same text counts as sent.
  Reply mode ``draft`` writes the approved text to the shared draft instead.
"""

from __future__ import annotations

import hashlib
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
    as_dict,
    html_to_text,
    json_object,
    parse_time,
    probe,
    same_text,
    secret_item,
    text_to_html,
)

# Ticket attributes every Zammad has; any other mapped field must exist as an object attribute.
BUILT_IN = {"priority_id", "state_id", "group_id", "owner_id", "title", "type"}


class ZammadConnector(Connector):
    kind = "zammad"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self.config.secret()}"}

    def verify(self, headers: Headers, raw_body: bytes, query: Mapping[str, str]) -> None:
        secret = self.config.webhook_secret.get_secret_value()
        if not secret:
            raise SignatureError("no webhook_secret is configured for this connector")
        given = headers.get("x-hub-signature", "")
        expected = "sha1=" + hmac.new(secret.encode(), raw_body, hashlib.sha1).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureError("missing or invalid X-Hub-Signature")

    def parse(self, headers: Headers, raw_body: bytes) -> InboundEvent | Ignored:
        payload = json_object(raw_body)
        ticket, article = payload.get("ticket"), payload.get("article")
        if not isinstance(ticket, dict) or "id" not in ticket:
            raise MalformedEvent("not a Zammad webhook: no ticket object with an id")
        if not isinstance(article, dict) or not article.get("id"):
            return Ignored("no_article")  # a ticket update without a new article
        sender = str(article.get("sender") or "")
        body = article.get("body") or ""
        if str(article.get("content_type", "")).startswith("text/html"):
            body = html_to_text(body)
        if article.get("internal"):
            return Ignored("internal_note")
        customer = as_dict(ticket.get("customer"))
        author = as_dict(article.get("created_by"))
        common: dict[str, Any] = {
            "ticket_ref": str(ticket["id"]),
            "message_ref": str(article["id"]),
            "body": body,
            "subject": str(ticket.get("title") or article.get("subject") or ""),
            "received_at": parse_time(article.get("created_at")),
        }
        if sender == "Customer":
            name = " ".join(str(customer.get(k) or "") for k in ("firstname", "lastname"))
            first = int(ticket.get("article_count") or 1) <= 1
            return InboundEvent(
                kind=EventKind.new_ticket if first else EventKind.customer_message,
                customer_email=customer.get("email") or None,
                customer_name=name.strip() or None,
                **common,
            )
        if sender == "Agent":
            who = author.get("email") or author.get("login") or article.get("from")
            return InboundEvent(kind=EventKind.agent_reply, author=who or None, **common)
        return Ignored("system_article")

    def write_triage(self, target: Target, labels: TriageLabels) -> WriteResult:
        for tag in self.tags_for(labels):
            self.http.request(
                "POST",
                "/api/v1/tags/add",
                json={"item": tag, "object": "Ticket", "o_id": int(target.ticket_ref)},
            )
        fields = self.fields_for(labels)
        if fields:
            self.http.request("PUT", f"/api/v1/tickets/{target.ticket_ref}", json=fields)
        return WriteResult()

    def write_draft(self, target: Target, draft: Draft) -> WriteResult:
        return self._shared_draft(target, draft.text)

    def write_reply(self, target: Target, reply: Reply, mode: ReplyMode) -> WriteResult:
        if mode == ReplyMode.draft:
            return self._shared_draft(target, reply.text, reply.to)
        if target.retry:
            for sent in self._articles(target.ticket_ref):
                mine = sent.get("sender") == "Agent" and not sent.get("internal")
                if mine and same_text(str(sent.get("body") or ""), reply.text):
                    return WriteResult(str(sent.get("id")), already_done=True)
        article: dict[str, Any] = {
            "ticket_id": int(target.ticket_ref),
            "body": text_to_html(reply.text),
            "content_type": "text/html",
            "type": self.config.options.get("article_type", "email"),
            "internal": False,
            "sender": "Agent",
        }
        if reply.to:
            article["to"] = reply.to
        if reply.subject:
            article["subject"] = reply.subject
        created = self.http.json("POST", "/api/v1/ticket_articles", json=article)
        return WriteResult(str(created.get("id")) if isinstance(created, dict) else None)

    def check(self) -> list[CheckItem]:
        item, me = probe(self, "credentials", "/api/v1/users/me")
        if not item.ok:
            return [item]
        items = [CheckItem("credentials", True, f"signed in as {me.get('login', '?')}")]
        wanted = set(self.config.fields.values()) - BUILT_IN
        if wanted:
            item, attrs = probe(self, "fields", "/api/v1/object_manager_attributes")
            have = {a.get("name") for a in attrs or [] if a.get("object") == "Ticket"}
            items += [item] if not item.ok else []
            for field in sorted(wanted) if item.ok else []:
                ok = field in have
                items.append(CheckItem(f"field {field}", ok, "" if ok else "no such attribute"))
        return [*items, secret_item(self)]

    def _shared_draft(self, target: Target, text: str, to: str | None = None) -> WriteResult:
        new_article: dict[str, Any] = {
            "body": text_to_html(text),
            "content_type": "text/html",
            "type": self.config.options.get("article_type", "email"),
            "internal": False,
        }
        if to:
            new_article["to"] = to
        answer = self.http.json(
            "PUT",
            f"/api/v1/tickets/{target.ticket_ref}/shared_draft",
            json={"form_id": target.key, "new_article": new_article, "ticket_attributes": {}},
        )
        draft_id = answer.get("shared_draft_id") if isinstance(answer, dict) else None
        return WriteResult(str(draft_id) if draft_id is not None else None)

    def _articles(self, ticket_ref: str) -> list[dict[str, Any]]:
        found = self.http.json("GET", f"/api/v1/ticket_articles/by_ticket/{ticket_ref}")
        return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []
