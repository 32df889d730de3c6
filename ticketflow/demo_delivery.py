"""The demo's last step: a customer's mail comes in, is triaged, approved by the demo itself,
and the reply is delivered by `ticketflow deliver` to a local SMTP sink, headers printed.

The demo plays the reviewer here only to show the loop; in real use a person decides.
"""

from __future__ import annotations

import subprocess
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from shared.errors import DemoError
from shared.models import utcnow
from ticketflow.processes import Child, child_env, ticketflow_cmd
from ticketflow.smtp_sink import SmtpSink

SUPPORT_ADDRESS = "support@ticketflow.demo"
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References")
DELIVERY_DEADLINE_S = 120


def customer_mail(sample: dict[str, Any], path: Path) -> str:
    """Write the sample as the .eml a customer's client would send; returns its Message-ID."""
    mail = EmailMessage()
    name, address = sample.get("customer_name") or "", sample["customer_email"]
    mail["From"] = f"{name} <{address}>" if name else address
    mail["To"] = SUPPORT_ADDRESS
    mail["Subject"] = sample.get("subject") or "Question"
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = make_msgid(domain="customer.example")
    mail.set_content(sample["body"])
    path.write_bytes(mail.as_bytes())
    return str(mail["Message-ID"])


def run_delivery(
    http: httpx.Client,
    console: Console,
    env: dict[str, str],
    sample: dict[str, Any],
    sink: SmtpSink,
    deliverer: Child,
    work_dir: Path,
    hold_s: float,
) -> None:
    eml = work_dir / "customer-mail.eml"
    first_id = customer_mail(sample, eml)
    ingest = subprocess.run(
        ticketflow_cmd("ingest-email", "--eml", str(eml)),
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ingest.returncode != 0:
        raise DemoError(f"ingest-email failed: {ingest.stderr.strip()[-2000:]}")
    console.print(
        f"\nDelivery: a customer mail ({escape(first_id)}) came in through `ticketflow "
        f"ingest-email`: {ingest.stdout.strip()}"
    )
    ticket = _wait(http, lambda t: t["status"] in ("triaged", "failed"), "triage")
    if ticket["status"] != "triaged":
        raise DemoError(f"the mail's ticket failed: {ticket.get('last_error')}")
    tid = ticket["id"]
    console.print(
        f"[bold]The demo now approves ticket #{tid}'s draft itself[/] (in real use a person "
        "reviews it at /ui). Without an approval nothing is ever sent."
    )
    # Recorded as reviewer "key:demo-<run>": the API takes the reviewer from the credentials.
    review = {"decision": "approve", "revision": ticket["triage"]["revision"]}
    http.post(f"/tickets/{tid}/review", json=review).raise_for_status()
    console.print(
        f"Held {hold_s:g} s (an approval can be undone meanwhile), then sent by `ticketflow "
        f"deliver` to the local SMTP sink at 127.0.0.1:{sink.port}…"
    )
    deadline = time.monotonic() + DELIVERY_DEADLINE_S
    # The sink also gets the replies the demo approved earlier (to the sample customers): the
    # one shown is the reply threaded under this customer's mail.
    while (mail := _reply_to(sink, first_id)) is None:
        state = http.get(f"/tickets/{tid}").raise_for_status().json()["delivery"]
        if state and state["status"] == "failed":
            raise DemoError(f"the reply could not be delivered: {state['last_error']}")
        if not deliverer.alive() or time.monotonic() > deadline:
            raise DemoError(
                f"no reply delivered; the delivery worker's log ({deliverer.log_path}) ends:\n"
                f"{deliverer.log_text()[-3000:]}"
            )
        time.sleep(0.2)
    console.print("Delivered to the mailbox, headers as the customer's client sees them:")
    for name in HEADERS:
        if mail[name] is not None:
            console.print(f"  {name}: {escape(str(mail[name]))}")
    state = _wait(http, lambda t: (t["delivery"] or {}).get("status") == "sent", "sent", tid)
    console.print(
        f"Ticket #{tid}: delivery {state['delivery']['status']} after "
        f"{state['delivery']['attempts']} attempt(s); the reply threads under the customer's "
        "mail (In-Reply-To), and the customer's answer will thread back onto the ticket."
    )


def _reply_to(sink: SmtpSink, message_id: str) -> EmailMessage | None:
    return next((m for m in sink.mails() if m["In-Reply-To"] == message_id), None)


def _wait(http: httpx.Client, done: Any, what: str, tid: int | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + DELIVERY_DEADLINE_S
    while time.monotonic() < deadline:
        if tid is None:
            page = http.get("/tickets", params={"limit": 1}).raise_for_status().json()
            ticket = page["items"][0] if page["items"] else None
        else:
            ticket = http.get(f"/tickets/{tid}").raise_for_status().json()
        if ticket is not None and ticket["source"] == "email" and done(ticket):
            return dict(ticket)
        time.sleep(0.3)
    raise DemoError(f"the mail's ticket did not reach '{what}' in {DELIVERY_DEADLINE_S}s")
