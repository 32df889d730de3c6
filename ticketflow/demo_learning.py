"""The demo's second act: guardrail warnings, then suggestions learned from approvals.

After the samples are triaged, the demo shows what the guardrails flagged, then plays a
reviewer: it approves three drafts with the reviewer's own edits (and says so), posts three new
tickets similar to them, and shows the reply each one is offered ("based on the reply approved
for #1") next to the model's draft. Everything goes through the public API, as a reviewer's
browser would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _jsonl(name: str) -> list[dict[str, Any]]:
    text = resources.files("ticketflow").joinpath(f"samples/{name}").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def warnings_table(tickets: list[dict[str, Any]]) -> Table | None:
    """One row per guardrail warning: what the reviewer sees above each draft."""
    table = Table(title="Guardrail warnings (shown to the reviewer; red: must be edited)")
    for col in ("#", "warning", "what"):
        table.add_column(col, overflow="fold")
    rows = 0
    for t in tickets:
        for w in (t.get("triage") or {}).get("warnings") or []:
            if w["fixed"] and w["code"] == "signature" and "it had none" in w["message"]:
                continue  # the signature appended to an unsigned draft: routine
            style = "red" if w["blocking"] else ("dim" if w["fixed"] else "yellow")
            label = "fixed" if w["fixed"] else ("blocking" if w["blocking"] else "check")
            table.add_row(str(t["id"]), f"[{style}]{w['code']} ({label})[/]", escape(w["message"]))
            rows += 1
    return table if rows else None


def learn_from_approvals(
    http: httpx.Client,
    console: Console,
    tickets: list[dict[str, Any]],
    follow: Callable[[list[int]], list[dict[str, Any]]],
    settle_s: float,
) -> None:
    """Approve three samples with edits, post three similar tickets, show their suggestions.

    ``settle_s``: how long the worker may take to see new approvals (its examples refresh
    interval, plus margin); posting sooner races the refresh and shows template suggestions.
    """
    by_ext = {t.get("external_id"): t for t in tickets if t.get("triage")}
    approved = []
    for a in _jsonl("demo_approvals.jsonl"):
        t = by_ext.get(a["external_id"])
        if t is None:
            continue
        body = {"decision": "edit", "edited_reply": a["reply"], "revision": t["triage"]["revision"]}
        if http.post(f"/tickets/{t['id']}/review", json=body).status_code == 200:
            approved.append(t["id"])
    if not approved:
        return
    console.print(
        f"Approved the drafts of tickets {', '.join(f'#{i}' for i in approved)} with a "
        "reviewer's edits (recorded as the demo's key): approved replies become examples for "
        "similar tickets."
    )
    time.sleep(settle_s)
    ids = [
        http.post("/tickets", json={**s, "source": "demo"}).raise_for_status().json()["id"]
        for s in _jsonl("demo_followups.jsonl")
    ]
    table = Table(title="New, similar tickets: the model's draft and the suggested reply",
                  show_lines=True)  # fmt: skip
    for col in ("#", "subject", "draft (first lines)", "suggestion"):
        table.add_column(col, overflow="fold")
    for t in follow(ids):
        r = t.get("triage") or {}
        s = r.get("suggestion")
        shown = (f"[green]{escape(s['source'])}[/] ({s['similarity']:.2f}):\n"
                 f"{escape(s['reply'][:220])}…" if s else "-")  # fmt: skip
        table.add_row(str(t["id"]), escape(t["subject"]), escape(r.get("draft_reply", "")[:160]),
                      shown)  # fmt: skip
    console.print(table)
