"""Request Tracker 5: a scrip posts signed events in, REST2 writes back.

RT has no outgoing webhooks of its own, so the admin loads docs/connectors/rt-ticketflow.initialdata
(docs/connectors/rt.md): one scrip (On Create or Correspond, in the ticketflow queue) that POSTs
a small JSON document, HMAC-SHA256-signed with the connector's ``webhook_secret`` in
``X-Ticketflow-Signature``, with the ticket, the transaction, its text and who wrote it.
Comments never fire it, so ticketflow's own drafts (comments) do not come back; its own public
replies do, and are ignored by author.

Write-back uses REST2 (``/REST/2.0``) with an RT auth token (``Authorization: token ...``):
labels into custom fields (``fields``; RT's own ``Priority`` too), the draft as a comment (an
internal note, never mailed to the customer), the approved reply as correspondence (mailed
by RT) or as a comment for the agent to send (``reply_mode = "draft"``). RT has no tags:
``tags`` are written only when ``options.tags_field`` names a multi-value custom field.

Options: ``queue`` (the queue the scrip runs in; events from others are ignored; default
General), ``tags_field``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from connectors.base import (
    NOTE_TITLE,
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
    marker,
    reply_draft_note,
    same_text,
)
from connectors.http import HelpdeskRefused, HelpdeskUnavailable
from producer.email.clean import strip_reply
from shared.errors import PermanentError

API = "/REST/2.0"
SIGNATURE_HEADER = "x-ticketflow-signature"
# The custom fields rt-ticketflow.initialdata creates, used when ``fields`` is not set.
DEFAULT_FIELDS = {
    "category": "Ticketflow Category",
    "priority": "Ticketflow Priority",
    "sentiment": "Ticketflow Sentiment",
    "language": "Ticketflow Language",
}
CORE_FIELDS = ("Priority",)  # ticket fields, not custom fields, that a label may go to
NEWEST = {"per_page": "100", "orderby": "id", "order": "DESC"}  # a retry looks at these


class RtConnector(Connector):
    kind = "rt"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.config.secret()}"}

    @property
    def queue(self) -> str:
        return self.config.options.get("queue", "General")

    @property
    def own_user(self) -> str:
        """The RT user the token belongs to: its correspondence is ticketflow's own reply."""
        return self.config.user or "ticketflow"

    # --- inbound ------------------------------------------------------------------------

    def verify(self, headers: Headers, raw_body: bytes, query: Mapping[str, str]) -> None:
        secret = self.config.webhook_secret.get_secret_value()
        if not secret:
            raise SignatureError("no webhook_secret is configured for this RT connector")
        given = headers.get(SIGNATURE_HEADER, "")
        expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureError(f"missing or wrong {SIGNATURE_HEADER}")

    def parse(self, headers: Headers, raw_body: bytes) -> InboundEvent | Ignored:
        try:
            doc = json.loads(raw_body)
        except ValueError:
            raise MalformedEvent("the body is not JSON") from None
        if not isinstance(doc, dict) or doc.get("event") != "transaction":
            raise MalformedEvent("not an RT transaction event (see rt-ticketflow.initialdata)")
        ticket, txn, kind = doc.get("ticket"), doc.get("transaction"), doc.get("type")
        if not _is_id(ticket) or not _is_id(txn) or not isinstance(kind, str):
            raise MalformedEvent("ticket and transaction must be RT ids and type a string")
        if kind not in ("Create", "Correspond"):
            return Ignored("event_type")
        if doc.get("queue") != self.queue:
            return Ignored("other_queue")
        body, subject = _text(doc, "content"), _text(doc, "subject")
        if kind == "Create":
            return InboundEvent(
                kind=EventKind.new_ticket,
                ticket_ref=str(ticket),
                message_ref=str(txn),
                body=body or subject,
                subject=subject,
                customer_email=_text(doc, "requestor_email") or None,
                customer_name=_text(doc, "requestor_name") or None,
            )
        if _text(doc, "creator") == self.own_user:
            return Ignored("own_write")  # the reply ticketflow posted, echoed by the scrip
        body = strip_reply(body)  # RT quotes the history in replies made from its UI or by mail
        if not body.strip():
            return Ignored("empty")
        by_customer = doc.get("creator_is_requestor") is True
        return InboundEvent(
            kind=EventKind.customer_message if by_customer else EventKind.agent_reply,
            ticket_ref=str(ticket),
            message_ref=str(txn),
            body=body,
            subject=subject,
            customer_email=_text(doc, "requestor_email") or None,
            author=None if by_customer else _text(doc, "creator") or None,
        )

    # --- outbound -----------------------------------------------------------------------

    def write_triage(self, target: Target, labels: TriageLabels) -> WriteResult:
        """Set the mapped fields; a mapped custom field the ticket lacks is a permanent error
        (RT would silently ignore it), so the row says which field to create."""
        ticket = self._ticket(target.ticket_ref)
        present = {cf.get("name") for cf in ticket.get("CustomFields", [])}
        core: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for helpdesk_field, value in self._field_values(labels).items():
            if helpdesk_field in CORE_FIELDS:
                core[helpdesk_field] = value
            elif helpdesk_field in present:
                custom[helpdesk_field] = value
            else:
                raise PermanentError(
                    f"{self.name}: custom field {helpdesk_field!r} does not apply to ticket "
                    f"{target.ticket_ref} (create it for queue {self.queue!r} and grant rights)"
                )
        tags_field = self.config.options.get("tags_field")
        if tags_field and self.config.tags:
            if tags_field not in present:
                raise PermanentError(f"{self.name}: tags_field {tags_field!r} is not on the ticket")
            custom[tags_field] = self.tags_for(labels)
        if custom:
            core["CustomFields"] = custom
        if core:
            self.http.json("PUT", f"{API}/ticket/{_ref(target.ticket_ref)}", json=core)
        return WriteResult(remote_id=target.ticket_ref)

    def write_draft(self, target: Target, draft: Draft) -> WriteResult:
        """The draft as a comment (internal: RT does not mail comments to requestors)."""
        return self._comment(target, NOTE_TITLE, draft_note(draft, target.key))

    def write_reply(self, target: Target, reply: Reply, mode: ReplyMode) -> WriteResult:
        if mode is ReplyMode.draft:
            return self._comment(target, "ticketflow reply", reply_draft_note(reply, target.key))
        if target.retry:
            # A public reply carries no marker: look for our own correspondence with this text.
            for item in self._history(target.ticket_ref):
                if self._own(item, "Correspond") and same_text(item["content"], reply.text):
                    return WriteResult(remote_id=item["transaction"], already_done=True)
        body = {"Content": reply.text, "ContentType": "text/plain"}
        self.http.json("POST", f"{API}/ticket/{_ref(target.ticket_ref)}/correspond", json=body)
        return WriteResult(remote_id=self._last_own(target.ticket_ref, "Correspond"))

    def check(self) -> list[CheckItem]:
        items: list[CheckItem] = []
        try:
            me = self.http.json("GET", f"{API}/user/{quote(self.own_user, safe='')}")
            items.append(CheckItem("credentials", True, f"token works (user {me.get('Name')})"))
        except HelpdeskUnavailable as err:
            return [CheckItem("credentials", False, str(err))]
        except HelpdeskRefused as err:
            return [CheckItem("credentials", False, f"{err} (token, or user {self.own_user!r})")]
        try:
            self.http.json("GET", f"{API}/queue/{quote(self.queue, safe='')}")
            items.append(CheckItem(f"queue {self.queue}", True, "visible"))
        except (HelpdeskRefused, HelpdeskUnavailable) as err:
            items.append(CheckItem(f"queue {self.queue}", False, f"{err} (SeeQueue right?)"))
        wanted = set(self._field_names())
        if self.config.options.get("tags_field"):
            wanted.add(self.config.options["tags_field"])
        for name in sorted(wanted - set(CORE_FIELDS)):
            query = json.dumps([{"field": "Name", "value": name}])
            found = self.http.json("GET", f"{API}/customfields", params={"query": query})
            ok = bool(found and found.get("count"))
            detail = "exists" if ok else "missing, or the user lacks SeeCustomField"
            items.append(CheckItem(f"custom field {name}", ok, detail))
        return items

    # --- helpers ------------------------------------------------------------------------

    def _field_names(self) -> list[str]:
        return list((self.config.fields or DEFAULT_FIELDS).values())

    def _field_values(self, labels: TriageLabels) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for label, helpdesk_field in (self.config.fields or DEFAULT_FIELDS).items():
            value = labels.value(label)
            out[helpdesk_field] = self.config.values.get(label, {}).get(value, value)
        return out

    def _ticket(self, ref: str) -> dict[str, Any]:
        found: dict[str, Any] = self.http.json("GET", f"{API}/ticket/{_ref(ref)}")
        return found

    def _comment(self, target: Target, subject: str, text: str) -> WriteResult:
        tag = marker(target.key)
        if target.retry:
            history = self._history(target.ticket_ref)
            if find_marker([i["content"] for i in history], target.key):
                earlier = self._last_own(target.ticket_ref, "Comment", tag)
                return WriteResult(remote_id=earlier, already_done=True)
        body = {"Subject": subject, "Content": text, "ContentType": "text/plain"}
        self.http.json("POST", f"{API}/ticket/{_ref(target.ticket_ref)}/comment", json=body)
        return WriteResult(remote_id=self._last_own(target.ticket_ref, "Comment", tag))

    def _history(self, ref: str) -> list[dict[str, str]]:
        """The ticket's newest messages (one REST2 page, where a retry's earlier write is):
        transaction id, type, creator and text, oldest first."""
        types = self.http.json(
            "GET",
            f"{API}/ticket/{_ref(ref)}/history",
            params={"fields": "Type,Creator", **NEWEST},
        )
        txns = {
            str(t["id"]): (t.get("Type", ""), (t.get("Creator") or {}).get("id", ""))
            for t in (types or {}).get("items", [])
        }
        parts = self.http.json(
            "GET",
            f"{API}/ticket/{_ref(ref)}/attachments",
            params={"fields": "TransactionId,ContentType,Content", **NEWEST},
        )
        out = []
        for part in (parts or {}).get("items", []):
            txn = str(part.get("TransactionId", ""))
            if txn in txns and str(part.get("ContentType", "")).startswith("text/"):
                kind, creator = txns[txn]
                content = str(part.get("Content") or "")
                out.append(
                    {"transaction": txn, "type": kind, "creator": creator, "content": content}
                )
        return out[::-1]

    def _own(self, item: dict[str, str], kind: str) -> bool:
        return item["type"] == kind and item["creator"] == self.own_user

    def _last_own(self, ref: str, kind: str, needle: str = "") -> str | None:
        """The id of ticketflow's newest transaction of ``kind`` (containing ``needle``)."""
        for item in reversed(self._history(ref)):
            if self._own(item, kind) and needle in item["content"]:
                return item["transaction"]
        return None


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    return value if isinstance(value, str) else ""


def _ref(ref: str) -> str:
    """A ticket ref as a path segment: RT ticket ids are numbers; anything else is refused."""
    if not ref.isdigit():
        raise PermanentError(f"RT ticket ref {ref[:40]!r} is not a ticket number")
    return ref
