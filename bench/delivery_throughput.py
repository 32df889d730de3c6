"""Delivery throughput: approved replies through ticketflow's outbox and `ticketflow deliver`
to a local SMTP server, against raw ``smtplib`` sending the same messages, in one run.

    python bench/delivery_throughput.py [--replies 300] [--concurrency 4]
        [--database-url sqlite:///... | postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--redis-url redis://127.0.0.1:6379/0] [--json bench/results/DATE-delivery-throughput.json]

Setup (not timed): N tickets are approved through the review service, which writes N rows to
the outbox. ticketflow: one `ticketflow deliver` process (a threads pool of ``--concurrency``)
is started; the clock runs from its "ready" line until every row is marked sent, so it covers
the relay's claim and publish through Redis, each task's conditional take, the SMTP
conversation, and the "sent" transaction that also stores the outgoing message on the ticket.
A second ticketflow run does the same with a webhook receiver configured, so every approval
also sends its ``ticket.reviewed`` and ``reply.sent`` events (3 deliveries per reply).
Baselines: ``smtplib`` sending the very same messages (built by ticketflow's composer) over one
kept connection, and over ``--concurrency`` threads with a connection each: the floor any
sender pays. All runs deliver to the same aiosmtpd server in this process, one after another.
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for p in (str(REPO), str(BENCH)):
    if p not in sys.path:  # run as a script from anywhere
        sys.path.insert(0, p)

import redis  # noqa: E402
from results_io import write  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, col, create_engine, select  # noqa: E402

from delivery.compose import build_email  # noqa: E402
from review.service import submit_review  # noqa: E402
from shared.config import Settings, load_settings  # noqa: E402
from shared.db import make_engine, upgrade  # noqa: E402
from shared.models import (  # noqa: E402
    OutboundMessage,
    ReviewCreate,
    Ticket,
    TicketStatus,
    TriageResult,
    WebhookDelivery,
)
from ticketflow.processes import child_env, spawn, ticketflow_cmd, wait_until  # noqa: E402
from ticketflow.smtp_sink import SmtpSink  # noqa: E402

SUPPORT = "help@bench.example"


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def seed(settings: Settings, n: int) -> None:
    """N triaged tickets approved through the review service: N outbox rows."""
    db = make_engine(settings.resolved_database_url)
    with Session(db, expire_on_commit=False) as s:
        tickets = [
            Ticket(
                source="email",
                external_id=f"b{i}",
                customer_email=f"customer{i}@example.com",
                customer_name=f"Customer {i}",
                subject=f"Order {i} arrived broken",
                body="The parcel arrived with a broken lid. Can you send a new one?",
                status=TicketStatus.triaged,
            )
            for i in range(n)
        ]
        s.add_all(tickets)
        s.commit()
        for t in tickets:
            s.add(
                TriageResult(
                    ticket_id=t.id or 0,
                    category="shipping_delivery",
                    category_confidence=0.9,
                    priority="normal",
                    priority_confidence=0.9,
                    sentiment="negative",
                    sentiment_confidence=0.9,
                    language="en",
                    language_confidence=0.9,
                    draft_reply="Sorry about that: a replacement is on its way today. " * 4,
                    classifier_model="m",
                    classifier_version="v",
                    draft_model="d",
                    engine_instance="e",
                    worker="w",
                )
            )
        s.commit()
        review = ReviewCreate(decision="approve", reviewer="bench", revision=1)  # type: ignore[arg-type]
        for t in tickets:
            submit_review(s, t.id or 0, review, {}, settings)
    db.dispose()


def run_ticketflow(settings: Settings, env: dict[str, str], n: int, log_dir: Path) -> float:
    """Seconds from the delivery worker's "ready" to every reply (and event) sent."""
    db = make_engine(settings.resolved_database_url)
    child = spawn("deliver", ticketflow_cmd("deliver"), env, log_dir)
    try:
        wait_until(lambda: "ready." in child.log_text(), 60, "the delivery worker", child, 0.02)
        t0 = time.perf_counter()

        def done() -> bool:
            with Session(db) as s:
                left = 0
                for table in (OutboundMessage, WebhookDelivery):
                    left += len(s.exec(select(table.id).where(col(table.status) != "sent")).all())
                return left == 0

        wait_until(done, 600, "every delivery", child, 0.05)
        return time.perf_counter() - t0
    finally:
        child.stop()
        db.dispose()


def messages(settings: Settings) -> list[Any]:
    db = make_engine(settings.resolved_database_url)
    with Session(db) as s:
        rows = s.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))).all()
        out = [build_email(r, f"Customer {i}", SUPPORT, "Support") for i, r in enumerate(rows)]
    db.dispose()
    return out


def raw_smtplib(sink: SmtpSink, mails: list[Any], threads: int) -> float:
    """The same messages by hand: ``threads`` connections, each kept open for its share."""

    def send(share: list[Any]) -> None:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
            for m in share:
                smtp.send_message(m, SUPPORT, [m["To"].addresses[0].addr_spec])

    shares = [mails[i::threads] for i in range(threads)]
    t0 = time.perf_counter()
    workers = [threading.Thread(target=send, args=(sh,)) for sh in shares]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - t0


def fresh_database(url: str | None, tmp: Path, tag: str) -> tuple[str, Any]:
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{tmp / f'{tag}.db'}", None
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"tf_bench_{tag}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return url.rsplit("/", 1)[0] + f"/{name}", (admin, name)


def drop_database(handle: Any) -> None:
    if handle is None:
        return
    admin, name = handle
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replies", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--database-url", default="", help="PostgreSQL admin URL; default SQLite")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--json", type=Path, help="write a result file (bench/results_io.py)")
    args = ap.parse_args(argv)
    n, conc = args.replies, args.concurrency
    sink = SmtpSink().start()
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    hooks.daemon_threads = True
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{hooks.server_address[1]}/events"
    timings: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            for label, webhook in (("ticketflow", False), ("ticketflow + webhooks", True)):
                url, handle = fresh_database(args.database_url, tmp, "wh" if webhook else "mail")
                queue = f"bench-out-{uuid.uuid4().hex[:8]}"
                values = {
                    "database_url": url,
                    "redis_url": args.redis_url,
                    "outbound_queue": queue,
                    "smtp_url": sink.url,
                    "support_address": SUPPORT,
                    "delivery_hold_s": "0",
                    "delivery_concurrency": str(conc),
                    "relay_poll_s": "0.1",
                    "data_dir": str(tmp),
                    "webhook_urls": hook_url if webhook else "",
                    "webhook_secret": "bench-secret" if webhook else "",
                }
                settings = load_settings(**values)
                upgrade(settings)
                seed(settings, n)
                if not webhook:
                    mails = messages(settings)
                env = child_env({f"TICKETFLOW_{k.upper()}": v for k, v in values.items()})
                before = len(sink.received)
                try:
                    timings[label] = run_ticketflow(settings, env, n, tmp / "logs")
                finally:
                    redis.Redis.from_url(args.redis_url).delete(queue)
                    drop_database(handle)
                got = len(sink.received) - before
                assert got == n, f"{label}: the sink received {got} mails for {n} replies"
                print(f"{label}: {n} replies in {timings[label]:.2f}s ({n / timings[label]:.0f}/s)")
            for threads in (1, conc):
                label = f"raw smtplib, {threads} connection(s)"
                timings[label] = raw_smtplib(sink, mails, threads)
                print(f"{label}: {n / timings[label]:.0f}/s")
    finally:
        sink.stop()
        hooks.shutdown()
        hooks.server_close()
    base = timings["raw smtplib, 1 connection(s)"]
    rows = [
        [label, n, f"{secs:.2f}", f"{n / secs:.0f}", f"{base / secs:.2f}x"]
        for label, secs in timings.items()
    ]
    for row in rows:
        print(" | ".join(str(c) for c in row))
    if args.json:
        write(
            args.json,
            benchmark="delivery-throughput",
            title="Delivery throughput (approved replies to an SMTP server)",
            columns=["sender", "replies", "seconds", "replies/s", "rate vs raw smtplib (1 conn.)"],
            rows=rows,
            notes=(
                f"Database: {'PostgreSQL' if args.database_url else 'SQLite'}; Redis broker; "
                f"`ticketflow deliver` with {conc} threads; aiosmtpd on loopback in the bench "
                "process. ticketflow's time covers relay, queue, take, SMTP and the 'sent' "
                "transaction (which also stores the reply on the ticket); the webhook run also "
                f"sends 2 signed events per reply ({2 * n} POSTs). The raw smtplib rows send "
                "the same messages and record nothing: what durability costs per message."
            ),
            raw={"timings_s": timings, "replies": n, "concurrency": conc},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
