"""Triage of one ticket: load it, run it through the batched engine, store the result once.

Knows nothing of Celery: ``worker.tasks`` calls ``process_ticket`` and maps its exceptions to
retry or failure. Idempotency comes from the database: one result per (ticket, revision), so a
message delivered twice (worker crash, visibility timeout) never produces a second result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, select

from shared.errors import PermanentError, TransientError
from shared.models import Ticket, TicketStatus, TriageResult, utcnow
from worker.citations import finish_draft
from worker.engine.base import Classification, Engine
from worker.history import load_history
from worker.knowledge_base import Hit, KnowledgeBase
from worker.prompting import (
    Reference,
    TicketView,
    build_chat,
    classification_text,
    reply_opening,
    with_opening,
)

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    triaged = "triaged"
    duplicate = "duplicate"  # a result for this revision exists already
    stale = "stale"  # a newer revision was queued; that message will do the work
    missing = "missing"  # no such ticket (deleted); nothing to do


@dataclass(frozen=True)
class TriageJob:
    ticket_id: int
    view: TicketView


@dataclass(frozen=True)
class TriageOutput:
    labels: Classification
    draft: str
    classify_ms: int
    draft_ms: int
    batch_size: int
    # The passages put in front of the model, numbered as in the prompt ([n]), each with
    # ``cited``: whether the draft refers to it (``appended`` when ticketflow added the pointer).
    citations: list[dict[str, Any]] = field(default_factory=list)
    retrieve_ms: int = 0


TriageSubmit = Callable[[TriageJob], TriageOutput]


def citation(n: int, hit: Hit) -> dict[str, Any]:
    p = hit.passage
    return {
        "n": n,
        "doc_id": p.doc_id,
        "chunk": p.chunk,
        "title": p.title,
        "url": p.url,
        "score": hit.score,
    }


def run_batch(
    engine: Engine, jobs: list[TriageJob], kb: KnowledgeBase | None = None
) -> list[TriageOutput]:
    """One classify pass, one retrieval embed pass and one generate pass for the whole batch.

    ``kb`` must be built on this engine (same encoder); without one, drafts get no references.
    """
    t0 = time.perf_counter()
    texts = [classification_text(j.view) for j in jobs]
    labels = engine.classify(texts)
    t1 = time.perf_counter()
    hits = kb.retrieve(texts) if kb is not None else [[] for _ in jobs]
    t2 = time.perf_counter()
    chats = [
        with_opening(
            build_chat(j.view, lab, [Reference(h.passage.title, h.passage.text) for h in hs]),
            reply_opening(lab.language.name, j.view.customer_name),
        )
        for j, lab, hs in zip(jobs, labels, hits, strict=True)
    ]
    drafts = engine.draft(chats)
    t3 = time.perf_counter()
    c_ms, r_ms, d_ms = (int((b - a) * 1000) for a, b in ((t0, t1), (t1, t2), (t2, t3)))
    out = []
    for lab, d, hs in zip(labels, drafts, hits, strict=True):
        draft, cites = finish_draft(
            d,
            [citation(n, h) for n, h in enumerate(hs, start=1)],
            lab.language.name,
            [h.passage.text for h in hs],
        )
        out.append(TriageOutput(lab, draft, c_ms, d_ms, len(jobs), cites, r_ms))
    return out


def _transient(err: Exception) -> TransientError:
    return TransientError(f"database unavailable: {err.__class__.__name__}: {err}")


def _claim(
    db: DbEngine, ticket_id: int, revision: int
) -> tuple[Outcome | None, TriageJob | None, int]:
    """Mark the ticket processing; return an outcome instead when there is nothing to do."""
    with Session(db, expire_on_commit=False) as s:
        ticket = s.get(Ticket, ticket_id)
        if ticket is None:
            return Outcome.missing, None, 0
        if revision < ticket.revision:
            return Outcome.stale, None, 0
        done = s.exec(
            select(TriageResult.id).where(
                TriageResult.ticket_id == ticket_id, TriageResult.revision == revision
            )
        ).first()
        if done is not None:
            return Outcome.duplicate, None, 0
        history = tuple(load_history(s, ticket))  # before the write: no row lock held meanwhile
        now = utcnow()
        queued_ms = (
            int((now - ticket.enqueued_at).total_seconds() * 1000) if ticket.enqueued_at else 0
        )
        ticket.status = TicketStatus.processing
        ticket.attempts += 1
        ticket.updated_at = now
        s.add(ticket)
        s.commit()
        view = TicketView(
            subject=ticket.subject,
            body=ticket.body,
            customer_name=ticket.customer_name,
            history=history,
        )
        return None, TriageJob(ticket_id, view), max(queued_ms, 0)


def _store(
    db: DbEngine,
    ticket_id: int,
    revision: int,
    out: TriageOutput,
    engine: Engine,
    worker: str,
    queue_ms: int,
    threshold: float,
) -> Outcome:
    info = engine.info
    lab = out.labels
    result = TriageResult(
        ticket_id=ticket_id,
        revision=revision,
        category=lab.category.name,
        category_confidence=lab.category.confidence,
        priority=lab.priority.name,
        priority_confidence=lab.priority.confidence,
        sentiment=lab.sentiment.name,
        sentiment_confidence=lab.sentiment.confidence,
        language=lab.language.name,
        language_confidence=lab.language.confidence,
        needs_human_triage=lab.category.confidence < threshold,
        alternatives={
            f: [{"label": a.name, "confidence": a.confidence} for a in alts]
            for f, alts in lab.alternatives.items()
        },
        draft_reply=out.draft,
        citations=out.citations,
        classifier_model=info.classifier_model,
        classifier_version=lab.classifier_version or info.classifier_version,
        draft_model=info.draft_model,
        engine_instance=info.instance_id,
        worker=worker,
        queue_ms=queue_ms,
        classify_ms=out.classify_ms,
        draft_ms=out.draft_ms,
        batch_size=out.batch_size,
    )
    with Session(db, expire_on_commit=False) as s:
        s.add(result)
        ticket = s.get(Ticket, ticket_id)
        if ticket is not None and ticket.revision == revision:
            ticket.status = TicketStatus.triaged
            ticket.last_error = None
            ticket.updated_at = utcnow()
            s.add(ticket)
        try:
            s.commit()
        except IntegrityError:
            s.rollback()  # another delivery of the same message got there first
            return Outcome.duplicate
    return Outcome.triaged


def process_ticket(
    ticket_id: int,
    revision: int,
    *,
    db: DbEngine,
    engine: Engine,
    submit: TriageSubmit,
    worker: str,
    threshold: float,
) -> Outcome:
    try:
        outcome, job, queue_ms = _claim(db, ticket_id, revision)
    except (OperationalError, PoolTimeout) as err:
        raise _transient(err) from err
    if outcome is not None or job is None:
        log.info("ticket %s rev %s: %s", ticket_id, revision, outcome)
        return outcome or Outcome.missing
    try:
        out = submit(job)
    except Exception as err:
        raise PermanentError(
            f"model failed on this ticket: {err.__class__.__name__}: {err}"
        ) from err
    try:
        return _store(db, ticket_id, revision, out, engine, worker, queue_ms, threshold)
    except (OperationalError, PoolTimeout) as err:
        raise _transient(err) from err


def mark_failed(db: DbEngine, ticket_id: int, revision: int, reason: str) -> None:
    """Record a readable reason; a newer revision is left alone."""
    with Session(db) as s:
        ticket = s.get(Ticket, ticket_id)
        if ticket is None or ticket.revision != revision:
            return
        ticket.status = TicketStatus.failed
        ticket.last_error = reason[:2000]
        ticket.updated_at = utcnow()
        s.add(ticket)
        s.commit()
