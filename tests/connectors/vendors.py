"""Zendesk, Freshdesk and Chatwoot as their docs describe them: the routes a contract server
accepts, how each signs its webhooks, and the helpdesk-side state the webhooks refer to.

``test_helpdesks.py`` runs the same behaviours against each (Zammad has its own module)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import html_to_text
from tests.connectors.contract import Call, ContractServer, Route, fixture, fixture_bytes

SECRET = "hook-secret"
TOKEN = "api-token"


@dataclass
class Vendor:
    kind: str
    routes: list[Route]
    authorized: Callable[[dict[str, str]], bool]
    config: dict[str, Any]
    state: Callable[[], dict[str, Any]]
    sign: Callable[[bytes], dict[str, str]]
    new_ticket: Callable[[ContractServer], bytes]
    followup: Callable[[ContractServer], bytes]
    agent_reply: Callable[[ContractServer, str], bytes]
    internal: Callable[[ContractServer], bytes]
    ticket_ref: str
    customer: tuple[str, str]  # email, name
    triage_written: Callable[[ContractServer], Any]
    expected_triage: Any
    notes: Callable[[ContractServer], list[str]]  # private notes' plain text, oldest first
    replies: Callable[[ContractServer], list[str]]  # public replies' plain text
    reply_route: str
    query: str = ""

    def server(self) -> ContractServer:
        return ContractServer(self.kind, self.routes, self.authorized, state=self.state())


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- Zendesk ----------------------------------------------------------------------------------

ZD_USERS = {
    20978392: {"id": 20978392, "name": "Ana Lima", "email": "ana@example.com", "role": "end-user"},
    900: {"id": 900, "name": "Jane Agent", "email": "jane@shop.example", "role": "agent"},
}


def _zd_state() -> dict[str, Any]:
    def comment(cid: int, author: int, body: str, public: bool = True) -> dict[str, Any]:
        return {
            "id": cid,
            "type": "Comment",
            "author_id": author,
            "body": body,
            "html_body": f"<div>{body}</div>",
            "plain_body": body,
            "public": public,
            "attachments": [],
            "audit_id": cid + 1,
            "created_at": "2024-05-21T08:00:00Z",
        }

    return {
        "ticket": {
            "id": 35436,
            "subject": "Order #1234 charged twice",
            "description": "My card was charged twice for order #1234. Please refund one payment.",
            "requester_id": 20978392,
            "status": "new",
            "tags": [],
            "custom_fields": [{"id": 360001, "value": None}],
        },
        "comments": [
            comment(
                2001,
                20978392,
                "My card was charged twice for order #1234. Please refund one payment.",
            ),
            comment(2002, 20978392, "Any news? It is still charged twice."),
            comment(2003, 900, "(set by the test)"),
            comment(2004, 900, "Checking with billing.", public=False),
        ],
        "updates": [],
    }


def _zd_comments(call: Call) -> tuple[int, Any]:
    comments = list(call.state["comments"])
    if call.query.get("sort_order") == ["desc"]:
        comments.reverse()
    answer: dict[str, Any] = {
        "comments": comments,
        "next_page": None,
        "previous_page": None,
        "count": len(comments),
    }
    if call.query.get("include") == ["users"]:
        answer["users"] = list(ZD_USERS.values())
    return 200, answer


def _zd_update(call: Call) -> tuple[int, Any]:
    update = call.body["ticket"]
    call.state["updates"].append(update)
    audit = {"id": 7000 + len(call.state["updates"]), "events": []}
    if "comment" in update:
        c = update["comment"]
        call.state["comments"].append(
            {
                "id": 3000 + len(call.state["comments"]),
                "type": "Comment",
                "author_id": 900,
                "body": c["body"],
                "plain_body": c["body"],
                "public": c.get("public", True),
            }
        )
    return 200, {"ticket": call.state["ticket"], "audit": audit}


def _zd_sign(body: bytes) -> dict[str, str]:
    stamp = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


def _zd_agent(server: ContractServer, text: str) -> bytes:
    server.state["comments"][2]["body"] = server.state["comments"][2]["plain_body"] = text
    return fixture_bytes("zendesk", "webhook_comment_added_agent.json")


ZENDESK = Vendor(
    kind="zendesk",
    routes=[
        Route(
            "ticket",
            "GET",
            r"/api/v2/tickets/35436\.json",
            lambda c: (200, {"ticket": c.state["ticket"]}),
        ),
        Route("comments", "GET", r"/api/v2/tickets/35436/comments\.json", _zd_comments),
        Route(
            "update",
            "PUT",
            r"/api/v2/tickets/35436\.json",
            _zd_update,
            "ticket_update.request.schema.json",
        ),
        Route("me", "GET", r"/api/v2/users/me\.json", lambda c: (200, {"user": ZD_USERS[900]})),
        Route(
            "fields",
            "GET",
            r"/api/v2/ticket_fields\.json",
            lambda c: (
                200,
                {"ticket_fields": [{"id": 360001, "title": "TF category", "type": "tagger"}]},
            ),
        ),
    ],
    authorized=lambda h: h.get("authorization") == _basic("jane@shop.example/token", TOKEN),
    config={
        "kind": "zendesk",
        "user": "jane@shop.example",
        "fields": {"category": "360001", "priority": "priority"},
        "values": {"priority": {"high": "high"}},
    },
    state=_zd_state,
    sign=_zd_sign,
    new_ticket=lambda s: fixture_bytes("zendesk", "webhook_ticket_created.json"),
    followup=lambda s: fixture_bytes("zendesk", "webhook_comment_added_customer.json"),
    agent_reply=_zd_agent,
    internal=lambda s: fixture_bytes("zendesk", "webhook_comment_added_private.json"),
    ticket_ref="35436",
    customer=("ana@example.com", "Ana Lima"),
    triage_written=lambda s: [u for u in s.state["updates"] if "comment" not in u],
    expected_triage=[
        {
            "additional_tags": ["tf-category-billing", "tf-priority-high"],
            "priority": "high",
            "custom_fields": [{"id": 360001, "value": "billing"}],
        }
    ],
    notes=lambda s: [c["body"] for c in s.state["comments"] if not c["public"] and c["id"] >= 3000],
    replies=lambda s: [c["body"] for c in s.state["comments"] if c["public"] and c["id"] >= 3000],
    reply_route="update",
)


# --- Freshdesk --------------------------------------------------------------------------------


def _fd_state() -> dict[str, Any]:
    return {
        "ticket": fixture("freshdesk", "ticket_view.response.json"),
        "conversations": [],
        "updates": [],
    }


def _fd_conversation(
    state: dict[str, Any], body: str, incoming: bool, private: bool
) -> dict[str, Any]:
    conv = {
        "id": 5000 + len(state["conversations"]),
        "body": f"<div>{body}</div>",
        "body_text": body,
        "incoming": incoming,
        "private": private,
        "user_id": 1000 if incoming else 42,
        "support_email": "support@shop.example",
        "source": 0 if not private else 2,
        "ticket_id": 17,
        "from_email": "ana@example.com" if incoming else "jane@shop.example",
        "created_at": f"2024-05-21T08:{len(state['conversations']):02d}:00Z",
        "updated_at": "2024-05-21T08:00:00Z",
        "attachments": [],
    }
    state["conversations"].append(conv)
    return conv


def _fd_ticket(call: Call) -> tuple[int, Any]:
    ticket = dict(call.state["ticket"])
    if call.query.get("include") != ["requester"]:
        ticket.pop("requester", None)
    return 200, ticket


def _fd_update(call: Call) -> tuple[int, Any]:
    call.state["updates"].append(call.body)
    if "tags" in call.body:
        call.state["ticket"]["tags"] = call.body["tags"]
    return 200, call.state["ticket"]


def _fd_note(call: Call) -> tuple[int, Any]:
    return 201, _fd_conversation(
        call.state, html_to_text(call.body["body"]), False, call.body.get("private", True)
    )


def _fd_reply(call: Call) -> tuple[int, Any]:
    return 201, _fd_conversation(call.state, html_to_text(call.body["body"]), False, False)


def _fd_with(server: ContractServer, body: str, incoming: bool, private: bool) -> bytes:
    _fd_conversation(server.state, body, incoming, private)
    return fixture_bytes("freshdesk", "webhook_conversation_added.json")


FRESHDESK = Vendor(
    kind="freshdesk",
    routes=[
        Route("ticket", "GET", r"/api/v2/tickets/17", _fd_ticket),
        Route(
            "update", "PUT", r"/api/v2/tickets/17", _fd_update, "ticket_update.request.schema.json"
        ),
        Route(
            "conversations",
            "GET",
            r"/api/v2/tickets/17/conversations",
            lambda c: (200, c.state["conversations"]),
        ),
        Route(
            "note", "POST", r"/api/v2/tickets/17/notes", _fd_note, "note_create.request.schema.json"
        ),
        Route(
            "reply",
            "POST",
            r"/api/v2/tickets/17/reply",
            _fd_reply,
            "reply_create.request.schema.json",
        ),
        Route(
            "me",
            "GET",
            r"/api/v2/agents/me",
            lambda c: (200, {"id": 42, "contact": {"email": "jane@shop.example"}}),
        ),
        Route(
            "fields",
            "GET",
            r"/api/v2/ticket_fields",
            lambda c: (200, [{"id": 1, "name": "cf_tf_category", "label": "TF category"}]),
        ),
    ],
    authorized=lambda h: h.get("authorization") == _basic(TOKEN, "X"),
    config={
        "kind": "freshdesk",
        "fields": {"category": "cf_tf_category", "priority": "priority"},
        "values": {"priority": {"low": 1, "normal": 2, "high": 3, "urgent": 4}},
    },
    state=_fd_state,
    sign=lambda body: {"Content-Type": "application/json", "X-Ticketflow-Secret": SECRET},
    new_ticket=lambda s: fixture_bytes("freshdesk", "webhook_ticket_created.json"),
    followup=lambda s: _fd_with(s, "Any news? It is still charged twice.", True, False),
    agent_reply=lambda s, text: _fd_with(s, text, False, False),
    internal=lambda s: _fd_with(s, "Checking with billing.", False, True),
    ticket_ref="17",
    customer=("ana@example.com", "Ana Lima"),
    triage_written=lambda s: s.state["updates"],
    expected_triage=[
        {
            "tags": ["vip", "tf-category-billing", "tf-priority-high"],
            "priority": 3,
            "custom_fields": {"cf_tf_category": "billing"},
        }
    ],
    notes=lambda s: [c["body_text"] for c in s.state["conversations"] if c["private"]],
    replies=lambda s: [
        c["body_text"] for c in s.state["conversations"] if not c["private"] and not c["incoming"]
    ],
    reply_route="reply",
)


# --- Chatwoot ---------------------------------------------------------------------------------

CW = r"/api/v1/accounts/1/conversations/10"


def _cw_state() -> dict[str, Any]:
    return {"labels": ["vip"], "attributes": {}, "messages": []}


def _cw_message(call: Call) -> tuple[int, Any]:
    message = {
        "id": 900 + len(call.state["messages"]),
        "content": call.body["content"],
        "message_type": 1,  # outgoing, as the API lists it
        "private": call.body.get("private", False),
        "conversation_id": 10,
        "created_at": int(time.time()),
    }
    call.state["messages"].append(message)
    return 200, message


def _cw_labels(call: Call) -> tuple[int, Any]:
    call.state["labels"] = call.body["labels"]
    return 200, {"payload": call.state["labels"]}


def _cw_attributes(call: Call) -> tuple[int, Any]:
    call.state["attributes"].update(call.body["custom_attributes"])
    return 200, {"custom_attributes": call.state["attributes"]}


def _cw_sign(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Chatwoot-Signature": f"sha256={mac}",
        "X-Chatwoot-Timestamp": stamp,
    }


def _cw_with(name: str, content: str | None = None) -> bytes:
    payload = fixture("chatwoot", name)
    if content is not None:
        payload["content"] = content
    return json.dumps(payload).encode()


CHATWOOT = Vendor(
    kind="chatwoot",
    routes=[
        Route("labels_get", "GET", CW + "/labels", lambda c: (200, {"payload": c.state["labels"]})),
        Route("labels", "POST", CW + "/labels", _cw_labels, "labels.request.schema.json"),
        Route(
            "attributes",
            "POST",
            CW + "/custom_attributes",
            _cw_attributes,
            "custom_attributes.request.schema.json",
        ),
        Route(
            "messages",
            "GET",
            CW + "/messages",
            lambda c: (200, {"meta": {}, "payload": c.state["messages"]}),
        ),
        Route(
            "message", "POST", CW + "/messages", _cw_message, "message_create.request.schema.json"
        ),
        Route(
            "me", "GET", r"/api/v1/profile", lambda c: (200, {"id": 1, "email": "john@acme.inc"})
        ),
        Route(
            "definitions",
            "GET",
            r"/api/v1/accounts/1/custom_attribute_definitions",
            lambda c: (
                200,
                [{"attribute_key": "tf_category", "attribute_model": "conversation_attribute"}],
            ),
        ),
    ],
    authorized=lambda h: h.get("api_access_token") == TOKEN,
    config={"kind": "chatwoot", "account_id": 1, "fields": {"category": "tf_category"}},
    state=_cw_state,
    sign=_cw_sign,
    new_ticket=lambda s: fixture_bytes("chatwoot", "webhook_message_incoming.json"),
    followup=lambda s: fixture_bytes("chatwoot", "webhook_message_followup.json"),
    agent_reply=lambda s, text: _cw_with("webhook_message_agent.json", text),
    internal=lambda s: fixture_bytes("chatwoot", "webhook_message_private.json"),
    ticket_ref="10",
    customer=("ana@example.com", "Ana Lima"),
    triage_written=lambda s: (s.state["labels"], s.state["attributes"]),
    expected_triage=(
        ["vip", "tf-category-billing", "tf-priority-high"],
        {"tf_category": "billing"},
    ),
    notes=lambda s: [m["content"] for m in s.state["messages"] if m["private"]],
    replies=lambda s: [m["content"] for m in s.state["messages"] if not m["private"]],
    reply_route="message",
)

VENDORS = {v.kind: v for v in (ZENDESK, FRESHDESK, CHATWOOT)}
