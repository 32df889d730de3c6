"""Drive ingestion over sources: each mail ingested, then acknowledged; IMAP polled.

Kept apart from the CLI so tests (and other entry points) run the same loop the command does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from producer.email.imap import ImapConfig, ImapSource
from producer.email.ingest import EmailIngester, IngestCounts, Outcome
from producer.email.sources import RawMail
from shared.errors import SourceError, TransientError

Echo = Callable[[str], None]


def ingest_all(
    ingester: EmailIngester, mails: Iterable[RawMail], counts: IngestCounts, echo: Echo
) -> None:
    """Ingest every mail and only then acknowledge it at its source.

    ``counts`` is updated in place so a run stopped by an unreachable source still reports
    what it did before.
    """
    for mail in mails:
        result = ingester.ingest(mail.raw, mail.origin)
        counts.add(result.outcome)
        if result.outcome in (Outcome.skipped, Outcome.quarantined):
            echo(f"{result.outcome.value}: {mail.origin}: {result.reason}")
        mail.ack()


def poll_imap(
    ingester: EmailIngester,
    config: ImapConfig,
    counts: IngestCounts,
    echo: Echo,
    *,
    once: bool,
    interval_s: float,
    sleep: Callable[[float], None] = time.sleep,
    max_passes: int | None = None,
) -> None:
    """One pass with ``once``; otherwise poll forever, riding out server and database outages.

    A fresh connection per pass is simpler and sturdier than keeping one open for hours.
    """
    passes = 0
    while True:
        before = counts.total
        try:
            with ImapSource(config) as source:
                ingest_all(ingester, source.pending(), counts, echo)
        except (SourceError, TransientError) as err:
            if once:
                raise
            echo(f"warning: {err}; retrying in {interval_s:g}s")
        else:
            if not once and counts.total > before:
                echo(f"{config.label}: {counts.summary()}")
        ingester.session.expunge_all()  # keep a long-running poller's memory flat
        passes += 1
        if once or (max_passes is not None and passes >= max_passes):
            return
        sleep(interval_s)
