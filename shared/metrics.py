"""The metrics every process records: names, labels and one small function per event.

Call sites stay one line (``metrics.record_review(...)``, ``with metrics.stage("claim"):``) so
instrumentation never reshapes the code it watches. Only ``prometheus_client`` is imported:
the API, the producers and the delivery side import this without torch. How the numbers are
served (an API route, a worker's loopback port, several API processes sharing a directory) is
``shared.metrics_export``'s job. Every label takes values from a small fixed set, so a client
cannot grow the number of series (a free-text ``source`` becomes ``other``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "ticketflow"
KNOWN_SOURCES = frozenset({"api", "email", "backfill"})
CONNECTOR_KINDS = frozenset({"zammad", "zendesk", "freshdesk", "chatwoot", "rt"})
STAGES = ("claim", "classify", "retrieve", "draft", "store")
# Seconds: from a millisecond database write to a 7B model's generate call on a full batch.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# Time in queue and time to a review decision run from seconds to days.
WAIT_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

TICKETS_RECEIVED = Counter(
    f"{PREFIX}_tickets_received",
    "Tickets offered by a producer, by source and outcome (created, duplicate, rejected).",
    ["source", "outcome"],
)
PUBLISH_SECONDS = Histogram(
    f"{PREFIX}_publish_seconds",
    "Time to hand one claimed ticket's message to Redis.",
    ["queue"],
    buckets=LATENCY_BUCKETS,
)
PUBLISHED = Counter(f"{PREFIX}_published", "Messages published by a relay.", ["queue"])
PUBLISH_FAILURES = Counter(
    f"{PREFIX}_publish_failures", "Publishes that failed (Redis away); the relay retries."
)
TIME_IN_QUEUE = Histogram(
    f"{PREFIX}_time_in_queue_seconds",
    "From a ticket's claim for publishing to a worker taking it.",
    ["queue"],
    buckets=WAIT_BUCKETS,
)
STAGE_SECONDS = Histogram(
    f"{PREFIX}_stage_seconds",
    "Latency of one triage stage: claim, store and draft per ticket (draft: from handing the "
    "prompt over to its draft), classify and retrieve per batch.",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    f"{PREFIX}_batch_size", "Tickets run together in one model pass.", buckets=BATCH_BUCKETS
)
GENERATED_TOKENS = Counter(
    f"{PREFIX}_generated_tokens", "Tokens generated for drafts (rate() gives tokens/s)."
)
TRIAGE_OUTCOMES = Counter(
    f"{PREFIX}_triage_outcomes",
    "Messages a worker finished: triaged, duplicate (redelivered, done already), stale "
    "(a newer revision is queued), missing, failed.",
    ["outcome"],
)
FAILURES = Counter(
    f"{PREFIX}_ticket_failures",
    "Tickets marked failed, by reason: permanent (the ticket), retries_exhausted, unexpected.",
    ["reason"],
)
RETRIES = Counter(
    f"{PREFIX}_ticket_retries", "Transient errors retried (database, Redis, out of memory)."
)
REDELIVERIES = Counter(
    f"{PREFIX}_redeliveries",
    "Messages Redis delivered again (a worker died or stalled holding them).",
)
RECOVERED = Counter(
    f"{PREFIX}_recovered",
    "Recovery actions: handed_back (a dead worker's message), resent (a lost message).",
    ["action"],
)
STALLS = Counter(f"{PREFIX}_model_stalls", "Model calls that ran past TICKETFLOW_MODEL_STALL_S.")
REVIEW_DECISIONS = Counter(
    f"{PREFIX}_review_decisions", "Reviewers' decisions on drafts.", ["decision"]
)
TIME_TO_DECISION = Histogram(
    f"{PREFIX}_review_time_to_decision_seconds",
    "From the draft being stored to a reviewer's decision.",
    ["decision"],
    buckets=WAIT_BUCKETS,
)
DELIVERIES = Counter(
    f"{PREFIX}_deliveries",
    "Approved replies handed to a channel, by outcome (sent, failed, retry, ...).",
    ["channel", "outcome"],
)
CONNECTOR_EVENTS = Counter(
    f"{PREFIX}_connector_events",
    "Helpdesk webhook requests by connector kind and outcome (created, threaded, reviewed, "
    "recorded, duplicate, ignored, unauthorized, malformed).",
    ["kind", "outcome"],
)
WORKER_READY = Gauge(
    f"{PREFIX}_worker_ready_timestamp_seconds",
    "When this worker finished loading its models (0: not yet).",
    multiprocess_mode="max",
)
MODEL_LOAD_SECONDS = Gauge(
    f"{PREFIX}_model_load_seconds",
    "Load and warm-up time of this worker's models.",
    multiprocess_mode="max",
)

# Worker only (one process): read from the stall watchdog at each scrape.
MODEL_CALL_RUNNING = Gauge(
    f"{PREFIX}_model_call_running_seconds",
    "How long the longest model call in progress has run (0: none); a stall shows here first.",
    multiprocess_mode="max",
)


def _label(value: str, known: frozenset[str], other: str = "other") -> str:
    return value if value in known else other


def record_ticket_received(source: str, outcome: str) -> None:
    """One ticket offered by a producer: ``created``, ``duplicate`` or ``rejected``."""
    label = "helpdesk" if source.startswith("helpdesk:") else _label(source, KNOWN_SOURCES)
    TICKETS_RECEIVED.labels(label, outcome).inc()


def record_connector_event(kind: str, outcome: str) -> None:
    """One request to ``POST /integrations/NAME/events``; ``kind`` is the connector's kind
    (zammad, zendesk...), never its free-form name."""
    CONNECTOR_EVENTS.labels(_label(kind, CONNECTOR_KINDS), outcome).inc()


def record_published(queue: str, seconds: float) -> None:
    PUBLISHED.labels(queue).inc()
    PUBLISH_SECONDS.labels(queue).observe(seconds)


def record_publish_failed() -> None:
    PUBLISH_FAILURES.inc()


def record_time_in_queue(queue: str, ms: int) -> None:
    TIME_IN_QUEUE.labels(queue or "unknown").observe(ms / 1000)


def record_stage(stage: str, seconds: float) -> None:
    STAGE_SECONDS.labels(stage).observe(seconds)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time a triage stage (also when it raises: a slow failure is still slow)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        record_stage(name, time.perf_counter() - t0)


def record_batch(size: int, classify_s: float, retrieve_s: float) -> None:
    """One batched pass of the classify and retrieve stages: its size and their latencies."""
    BATCH_SIZE.observe(size)
    record_stage("classify", classify_s)
    record_stage("retrieve", retrieve_s)


def record_drafts(count: int, draft_s: float) -> None:
    """``count`` drafts that took ``draft_s`` (one static batch, or one ticket's own draft
    when drafts stream): the draft stage's latency as a ticket sees it."""
    for _ in range(count):
        record_stage("draft", draft_s)


def record_generated_tokens(n: int) -> None:
    GENERATED_TOKENS.inc(n)


def record_outcome(outcome: str) -> None:
    TRIAGE_OUTCOMES.labels(outcome).inc()


def record_failure(reason: str) -> None:
    """A ticket marked failed; ``reason`` is a kind (``permanent``, ``retries_exhausted``,
    ``unexpected``), never the error text (unbounded, and it may quote the customer)."""
    FAILURES.labels(reason).inc()
    record_outcome("failed")


def record_retry() -> None:
    RETRIES.inc()


def record_redelivery() -> None:
    REDELIVERIES.inc()


def record_recovered(handed_back: int, resent: int) -> None:
    if handed_back:
        RECOVERED.labels("handed_back").inc(handed_back)
    if resent:
        RECOVERED.labels("resent").inc(resent)


def record_stall() -> None:
    STALLS.inc()


def record_review(decision: str, seconds: float) -> None:
    """A reviewer's decision and how long the draft waited for it."""
    REVIEW_DECISIONS.labels(decision).inc()
    TIME_TO_DECISION.labels(decision).observe(max(seconds, 0.0))


def record_delivery(channel: str, outcome: str) -> None:
    """An approved reply handed to a channel (``email``, ``webhook``...): ``sent``, ``failed``,
    ``retry``... For the delivery side to call once per attempt."""
    DELIVERIES.labels(channel, outcome).inc()


def record_worker_ready(load_seconds: float, longest_call: Callable[[], float]) -> None:
    """A worker loaded its models; ``longest_call`` says how long the current model call
    has been running (read at each scrape)."""
    MODEL_LOAD_SECONDS.set(load_seconds)
    WORKER_READY.set(time.time())
    MODEL_CALL_RUNNING.set_function(longest_call)
