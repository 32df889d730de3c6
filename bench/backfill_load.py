"""Load check for ``ticketflow backfill``: how fast a real import reaches Redis.

Backfills a CSV (default: the Banking77 training file beside the repository) into the given
database through the real importer and ``CeleryPublisher``, and reports the enqueue rate. By
default it publishes to a throwaway queue that nothing consumes and deletes it afterwards.
With ``--wait`` and a worker consuming ``--queue``, it also reports the end-to-end time until
every imported ticket has left ``queued``/``processing``.

    .venv/bin/python bench/backfill_load.py [CSV] --database-url URL [--redis-url URL]
        [--queue NAME --wait] [--rate N] [--migrate] [--cleanup]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import redis  # noqa: E402
from results_io import write  # noqa: E402
from sqlmodel import Session, col, delete, func, select  # noqa: E402

from dispatch.publisher import CeleryPublisher  # noqa: E402
from producer.backfill.importer import Importer  # noqa: E402
from producer.backfill.mapping import parse_mapping  # noqa: E402
from producer.backfill.reader import RowReader  # noqa: E402
from shared.celery_app import create_celery_app  # noqa: E402
from shared.config import load_settings  # noqa: E402
from shared.db import make_engine, upgrade  # noqa: E402
from shared.models import Ticket, TicketStatus  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared" / "data" / "banking77" / "train.csv"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    p.add_argument("--database-url", help="default: the settings' database")
    p.add_argument("--redis-url", help="default: the settings' broker")
    p.add_argument("--queue", help="default: a throwaway queue, deleted afterwards")
    p.add_argument("--source", help="default: a fresh name, so every row is new")
    p.add_argument("--map", dest="mapping", help="--map as for `ticketflow backfill`")
    p.add_argument("--rate", type=float, default=0.0, help="tickets/s, 0 = unlimited")
    p.add_argument("--wait", action="store_true", help="wait for a worker to triage them all")
    p.add_argument("--timeout", type=float, default=3600.0, help="for --wait, in seconds")
    p.add_argument("--migrate", action="store_true", help="apply migrations first")
    p.add_argument("--cleanup", action="store_true", help="delete the imported tickets after")
    p.add_argument("--json", type=Path, help="also write the result here (bench/results_io)")
    return p.parse_args()


def wait_for_worker(session: Session, source: str, timeout: float) -> float:
    """Seconds until no ticket of ``source`` is queued or processing."""
    start = time.perf_counter()
    pending = [TicketStatus.queued, TicketStatus.processing]
    stmt = select(func.count()).where(Ticket.source == source, col(Ticket.status).in_(pending))
    while session.exec(stmt).one():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for the worker")
        time.sleep(0.5)
        session.expire_all()
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    run = uuid.uuid4().hex[:8]
    overrides = {"database_url": args.database_url, "redis_url": args.redis_url}
    throwaway = args.queue is None
    queue = args.queue or f"bench.backfill.{run}"
    settings = load_settings(
        backfill_queue=queue, **{k: v for k, v in overrides.items() if v is not None}
    )
    if args.migrate:
        upgrade(settings)
    source = args.source or f"bench-{run}"
    engine = make_engine(settings.resolved_database_url)
    app = create_celery_app(settings)
    broker = redis.Redis.from_url(settings.redis_url)
    result: dict[str, object] = {"csv": str(args.csv), "queue": queue, "source": source}
    try:
        with Session(engine, expire_on_commit=False) as session:
            reader = RowReader(
                args.csv,
                mapping=parse_mapping(args.mapping),
                source=source,
                max_body_chars=settings.max_body_chars,
            )
            start = time.perf_counter()
            with reader:
                counts = Importer(session, CeleryPublisher(app), queue, rate=args.rate).run(reader)
            elapsed = time.perf_counter() - start
            result |= vars(counts) | {
                "import_s": round(elapsed, 2),
                "enqueue_rate_per_s": round(counts.enqueued / elapsed, 1),
                "queue_length": broker.llen(queue),
            }
            if args.wait:
                drained = wait_for_worker(session, source, args.timeout)
                result |= {
                    "end_to_end_s": round(elapsed + drained, 2),
                    "triage_rate_per_s": round(counts.enqueued / (elapsed + drained), 1),
                }
            if args.cleanup:
                session.exec(delete(Ticket).where(col(Ticket.source) == source))
                session.commit()
    finally:
        if throwaway:
            for key in broker.scan_iter(match=f"*{queue}*"):
                broker.delete(key)
        broker.close()
        engine.dispose()
    for key, value in result.items():
        print(f"{key:>20}: {value}")
    print(json.dumps(result))
    if args.json:
        write(
            args.json,
            benchmark="backfill-load",
            title="Backfill into the database and Redis",
            columns=["measure", "value"],
            rows=[[key, value] for key, value in result.items()],
            raw=result,
        )


if __name__ == "__main__":
    main()
