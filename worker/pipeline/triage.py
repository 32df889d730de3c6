"""Triage of one ticket: load it, run it through the batched engine, store the result once.

Knows nothing of Celery: ``worker.edge.tasks`` calls ``process_ticket`` and maps its exceptions to
retry or failure. Idempotency comes from the database: one result per (ticket, revision), so a
message delivered twice (worker crash, visibility timeout) never produces a second result; the
status writes themselves live in ``worker.pipeline.ticket_state``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Engine as DbEngine

from privacy import Redactor, Vault, restore
from shared import metrics
from shared.config import Settings
from shared.errors import PermanentError, TransientError
from shared.models import TriageResult
from worker.drafting.citations import finish_draft
from worker.drafting.draft_aids import DraftAids, DraftPlan
from worker.drafting.fences import Neutralizer
from worker.drafting.knowledge_base import Hit, KnowledgeBase
from worker.drafting.prompting import (
    Reference,
    TicketView,
    build_chat,
    classification_text,
    reply_opening,
    with_opening,
)
from worker.engine.base import ChatMessages, Classification, Engine
from worker.pipeline.redaction import redact_view
from worker.pipeline.ticket_state import (
    DB_UNAVAILABLE,
    Outcome,
    claim,
    mark_failed,
    store,
    transient,
)

__all__ = [
    "Outcome",
    "PreparedTicket",
    "TriageJob",
    "TriageOutput",
    "finish",
    "mark_failed",
    "prepare_batch",
    "process_ticket",
    "run_batch",
]

log = logging.getLogger(__name__)


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
    # Guardrail warnings and the approved reply offered to the reviewer (issue 20).
    warnings: list[dict[str, Any]] = field(default_factory=list)
    suggestion: dict[str, Any] | None = None
    # The chat the draft model was given (None for a canned reply): reviewers can see it.
    prompt: list[dict[str, str]] | None = None


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


# On by default: every entity type; the worker passes the configured one.
DEFAULT_REDACTOR = Redactor()


def redactor_from(settings: Settings) -> Redactor:
    return Redactor(
        settings.redact_entity_list,
        phone_region=settings.redact_phone_region,
        extra_patterns=settings.redact_pattern_map,
    )


@lru_cache(maxsize=4)
def _neutralizer(tokens: tuple[str, ...]) -> Neutralizer:
    return Neutralizer(tokens)


def fence_for(engine: Engine) -> Neutralizer:
    """Defuses the draft model's own control tokens (an engine without a tokenizer: the
    common families' tokens only)."""
    tokens = getattr(engine, "control_tokens", None)
    return _neutralizer(tuple(sorted(tokens())) if callable(tokens) else ())


@dataclass(frozen=True)
class PreparedTicket:
    """A ticket after the batched model stages (classify, retrieve, plan): what its draft needs.

    Drafting is a separate stage (``worker.pipeline.stages``), so the next tickets can be
    classified while these generate, and each ticket can leave as soon as its own draft is done.
    """

    job: TriageJob
    labels: Classification
    hits: list[Hit]
    plan: DraftPlan | None
    chat: ChatMessages
    vault: Vault
    classify_ms: int
    retrieve_ms: int
    batch_size: int

    @property
    def canned(self) -> str | None:
        """The draft when it needs no generation (a template or an approved reply)."""
        return self.plan.canned if self.plan is not None else None


def prepare_batch(
    engine: Engine,
    jobs: list[TriageJob],
    kb: KnowledgeBase | None = None,
    redactor: Redactor = DEFAULT_REDACTOR,
    aids: DraftAids | None = None,
) -> list[PreparedTicket]:
    """One classify pass and one retrieval embed pass for the whole batch, then each prompt.

    ``kb`` must be built on this engine (same encoder); without one, drafts get no references.
    The models see placeholders for personal data (``redactor``); ``finish`` puts safe values
    back. ``aids`` (examples, fallback language, guardrails) must be built on it too.
    """
    t0 = time.perf_counter()
    fence = fence_for(engine)
    redacted = [redact_view(j.view, redactor) for j in jobs]
    views = [v for v, _ in redacted]
    texts = [classification_text(v) for v in views]
    labels = engine.classify(texts)
    t1 = time.perf_counter()
    hits = kb.retrieve(texts) if kb is not None else [[] for _ in jobs]
    # -- issue 20: plan each draft (examples, language), skip generation for canned ones --
    vectors = engine.embed(texts) if aids is not None and aids.examples is not None else None
    plans = aids.plan(views, labels, vectors) if aids is not None else None
    t2 = time.perf_counter()
    c_ms, r_ms = int((t1 - t0) * 1000), int((t2 - t1) * 1000)
    metrics.record_batch(len(jobs), t1 - t0, t2 - t1)
    out = []
    for i, (j, v, lab, hs) in enumerate(zip(jobs, views, labels, hits, strict=True)):
        plan = plans[i] if plans is not None else None
        plab = aids.prompt_labels(lab, plan) if aids is not None and plan is not None else lab
        refs = [Reference(h.passage.title, h.passage.text) for h in hs]
        chat = build_chat(v, plab, refs, fence)
        if aids is not None and plan is not None:
            chat = aids.with_examples(chat, plan)
        opening = reply_opening(plab.language.name, v.customer_name, fence)
        chat = with_opening(chat, opening)
        out.append(PreparedTicket(j, lab, hs, plan, chat, redacted[i][1], c_ms, r_ms, len(jobs)))
    return out


def finish(p: PreparedTicket, draft: str, draft_ms: int, aids: DraftAids | None) -> TriageOutput:
    """The stored output of one ticket: citations, personal data restored, guardrails."""
    plan = p.plan
    hs = p.hits
    text, cites = finish_draft(
        draft,
        [citation(n, h) for n, h in enumerate(hs, start=1)],
        plan.language if plan is not None else p.labels.language.name,
        [h.passage.text for h in hs],
    )
    text = restore(text, p.vault)
    warnings: list[dict[str, Any]] = []
    if aids is not None and plan is not None:
        sources = [t for h in hs for t in (h.passage.text, h.passage.url or "")]
        titles = [h.passage.title for h in hs]
        text, warnings = aids.guard(text, p.job.view, plan, sources, titles)
    canned = p.canned is not None
    return TriageOutput(
        p.labels,
        text,
        p.classify_ms,
        draft_ms,
        p.batch_size,
        cites,
        p.retrieve_ms,
        warnings,
        plan.suggestion if plan is not None else None,
        None if canned else p.chat,
    )


def run_batch(
    engine: Engine,
    jobs: list[TriageJob],
    kb: KnowledgeBase | None = None,
    redactor: Redactor = DEFAULT_REDACTOR,
    aids: DraftAids | None = None,
) -> list[TriageOutput]:
    """The whole batch in one call: ``prepare_batch``, one ``draft`` for every ticket that
    needs generation, ``finish`` each. Evaluation and tests use it; the worker runs the same
    three steps as stages (``worker.pipeline.stages``)."""
    prepared = prepare_batch(engine, jobs, kb, redactor, aids)
    todo = [p for p in prepared if p.canned is None]
    t0 = time.perf_counter()
    generated = iter(engine.draft([p.chat for p in todo]) if todo else [])
    d_s = time.perf_counter() - t0
    if todo:
        metrics.record_drafts(len(todo), d_s)
    d_ms = int(d_s * 1000)
    return [
        finish(p, p.canned, 0, aids)
        if p.canned is not None
        else finish(p, next(generated), d_ms, aids)
        for p in prepared
    ]


def _result(
    ticket_id: int,
    revision: int,
    out: TriageOutput,
    engine: Engine,
    worker: str,
    queue_ms: int,
    threshold: float,
) -> TriageResult:
    info = engine.info
    lab = out.labels
    return TriageResult(
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
        warnings=out.warnings,
        suggestion=out.suggestion,
        prompt=out.prompt,
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


def out_of_resources(err: BaseException) -> bool:
    """Out of GPU (CUDA, MPS) or host memory: the batch or the moment was too much, not the
    ticket, so it is worth retrying. Matched by name so this module needs no torch import."""
    if isinstance(err, MemoryError):
        return True
    names = {c.__name__ for c in type(err).__mro__}
    return "OutOfMemoryError" in names or (
        isinstance(err, RuntimeError) and "out of memory" in str(err).lower()
    )


def process_ticket(
    ticket_id: int,
    revision: int,
    *,
    db: DbEngine,
    engine: Engine,
    submit: TriageSubmit,
    worker: str,
    threshold: float,
    lease_s: float = 0.0,
    queue: str = "",
    webhook_urls: Sequence[str] = (),
) -> Outcome:
    try:
        with metrics.stage("claim"):
            outcome, view, queue_ms = claim(db, ticket_id, revision, worker, lease_s)
    except DB_UNAVAILABLE as err:
        raise transient(err) from err
    if outcome is not None:
        log.info("ticket %s rev %s: %s", ticket_id, revision, outcome)
        metrics.record_outcome(outcome)
        return outcome
    metrics.record_time_in_queue(queue, queue_ms)
    try:
        out = submit(TriageJob(ticket_id, view))
    except Exception as err:
        reason = f"{err.__class__.__name__}: {err}"
        if out_of_resources(err):
            raise TransientError(f"model stage out of memory: {reason}") from err
        raise PermanentError(f"model failed on this ticket: {reason}") from err
    result = _result(ticket_id, revision, out, engine, worker, queue_ms, threshold)
    try:
        with metrics.stage("store"):
            stored = store(db, result, webhook_urls)
    except DB_UNAVAILABLE as err:
        raise transient(err) from err
    metrics.record_outcome(stored)
    return stored
