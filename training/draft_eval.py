"""``ticketflow eval-drafts``: how good are the drafts, before and after the draft aids.

On a labelled file (tickets with reference replies; ``ticketflow/samples/eval`` ships one)
every ticket is drafted twice in one run, through the worker's own ``run_batch``: "plain" is
the pipeline without aids (the model, the knowledge base, citations), "aided" adds the approved
replies and templates as examples and suggestions, the fallback language and the guardrails.
Each stored text is then checked by the same guardrails, so a violation is counted the same way
in both modes, and "unflagged" means the text fails a check the reviewer was not warned about.
On the database, reviewed tickets are scored as they were drafted: an approval's reference is
the draft itself, an edit's the edited text.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from knowledge.importer import import_paths
from knowledge.templates import import_templates
from shared.db import make_engine
from shared.errors import InputError
from shared.models import (
    ReplyExample,
    Review,
    ReviewDecision,
    Ticket,
    TicketStatus,
    TriageResult,
)
from training.draft_metrics import (
    DraftScore,
    cosines,
    edit_distance,
    grouped,
    rouge_l,
    words,
)
from worker.drafting.draft_aids import DraftAids, ticket_text
from worker.drafting.guardrails import (
    CONTACT,
    LANGUAGE_FALLBACK,
    PLACEHOLDER,
    PROMISE,
    DraftContext,
    check_draft,
)
from worker.drafting.knowledge_base import KnowledgeBase
from worker.drafting.prompting import TicketView
from worker.engine.base import Engine
from worker.pipeline.triage import TriageJob, TriageOutput, run_batch

NOT_VIOLATIONS = (PROMISE, LANGUAGE_FALLBACK)  # flags for the reviewer, not faults of the text
REQUIRED = ("id", "language", "subject", "body", "reference")


@dataclass(frozen=True)
class EvalTicket:
    id: str
    language: str
    category: str
    view: TicketView
    reference: str


def load_eval_file(path: Path) -> list[EvalTicket]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read: {err}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{n}: invalid JSON ({err.msg})") from None
        missing = [k for k in REQUIRED if not isinstance(row.get(k), str) or not row[k].strip()]
        if missing:
            raise InputError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
        view = TicketView(row["subject"], row["body"], row.get("customer_name"))
        out.append(EvalTicket(row["id"], row["language"], row.get("category", ""), view,
                              row["reference"]))  # fmt: skip
    if not out:
        raise InputError(f"{path}: no tickets")
    return out


def seed_database(
    url: str, kb: Sequence[Path], templates: Sequence[Path], approved: Path | None
) -> None:
    """A scratch database with the knowledge base, templates and approved replies."""
    db = make_engine(url)
    SQLModel.metadata.create_all(db)
    with Session(db) as s:
        if kb:
            import_paths(s, list(kb))
        if templates:
            import_templates(s, list(templates))
        for line in approved.read_text(encoding="utf-8").splitlines() if approved else []:
            if not line.strip():
                continue
            row = json.loads(line)
            t = Ticket(source="eval", external_id=row["id"], subject=row["subject"],
                       body=row["body"], customer_name=row.get("customer_name"),
                       status=TicketStatus.approved)  # fmt: skip
            s.add(t)
            s.flush()
            s.add(ReplyExample(ticket_id=t.id, category=row.get("category", ""),
                               language=row["language"], customer_name=row.get("customer_name"),
                               ticket_text=f"{row['subject']}\n{row['body']}",
                               reply=row["reply"]))  # fmt: skip
        s.commit()
    db.dispose()


def _measure(
    text: str, warnings: Sequence[dict[str, Any]], ctx: DraftContext
) -> tuple[list[str], bool, bool]:
    """Guardrail codes the stored text still fails, and whether contacts / placeholders in it
    went out without the matching warning."""
    found = [w.code for w in check_draft(text, ctx).warnings if w.code not in NOT_VIOLATIONS]
    flagged = {w["code"] for w in warnings if not w.get("fixed")}
    return (
        found,
        CONTACT in found and CONTACT not in flagged,
        (PLACEHOLDER in found and PLACEHOLDER not in flagged),
    )


def score_outputs(
    tickets: Sequence[EvalTicket],
    outs: Sequence[TriageOutput],
    engine: Engine,
    aids: DraftAids,
    detect: Callable[[str], str],
    sources: Sequence[Sequence[str]],
) -> list[DraftScore]:
    drafts = [o.draft for o in outs]
    refs = [t.reference for t in tickets]
    suggestions = [(o.suggestion or {}).get("reply") for o in outs]
    sims = cosines(engine.embed(drafts), engine.embed(refs))
    with_s = [i for i, s in enumerate(suggestions) if s]
    s_vectors = engine.embed([suggestions[i] or "" for i in with_s]) if with_s else []
    r_vectors = engine.embed([refs[i] for i in with_s]) if with_s else []
    s_sims = dict(zip(with_s, cosines(s_vectors, r_vectors), strict=True))
    rules = aids.rules
    scores = []
    for i, (t, o) in enumerate(zip(tickets, outs, strict=True)):
        fallback = any(w["code"] == LANGUAGE_FALLBACK for w in o.warnings)
        ctx = DraftContext(
            ticket_text=ticket_text(t.view),
            language=t.language,
            customer_name=t.view.customer_name,
            sources=sources[i],
            allowed_contacts=rules.allowed_contacts,
            signature=rules.signature,
            blocking=rules.blocking,
            detect_language=None if fallback else detect,
        )
        violations, contacts, placeholders = _measure(o.draft, o.warnings, ctx)
        detected = detect(o.draft)
        match = detected == t.language or (fallback and detected == rules.team_language)
        s = DraftScore(t.language, t.category, violations, contacts, placeholders, match)
        s.cited = any(c.get("cited") for c in o.citations) if o.citations else None
        s.cosine, s.rouge_l, s.words = sims[i], rouge_l(o.draft, t.reference), words(o.draft)
        if suggestions[i]:
            s.suggestion_cosine = s_sims[i]
            s.suggestion_rouge_l = rouge_l(suggestions[i] or "", t.reference)
        scores.append(s)
    return scores


def run_file_eval(
    engine: Engine,
    aids_factory: Callable[[Any], DraftAids],
    tickets: Sequence[EvalTicket],
    *,
    kb: Sequence[Path],
    templates: Sequence[Path],
    approved: Path | None,
    batch_size: int,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Plain and aided drafts for every ticket, scored; the before/after report."""
    with tempfile.TemporaryDirectory(prefix="ticketflow-eval-") as tmp:
        url = f"sqlite:///{tmp}/eval.db"
        seed_database(url, kb, templates, approved)
        db = make_engine(url)
        base = KnowledgeBase(db, engine)
        base.load()
        aids = aids_factory(db)
        detect = aids.detect_language or (lambda _t: "und")
        jobs = [TriageJob(n, t.view) for n, t in enumerate(tickets, start=1)]
        report: dict[str, Any] = {"tickets": len(tickets), "modes": {}}
        per_ticket: dict[str, list[DraftScore]] = {}
        outs_by_mode: dict[str, list[TriageOutput]] = {}
        for mode, helper in (("plain", None), ("aided", aids)):
            outs: list[TriageOutput] = []
            for i in range(0, len(jobs), batch_size):
                progress(f"{mode}: tickets {i + 1}-{min(i + batch_size, len(jobs))}")
                outs += run_batch(engine, jobs[i : i + batch_size], base, aids=helper)
            outs_by_mode[mode] = outs
        hits = base.retrieve([f"{t.view.subject}\n{t.view.body}" for t in tickets])
        examples = [ReplyExample.model_validate(e) for e in _examples(db)]
        srcs = [[*(x for h in hs for x in (h.passage.text, h.passage.url or "")),
                 *(e.reply for e in examples)] for hs in hits]  # fmt: skip
        for mode, outs in outs_by_mode.items():
            per_ticket[mode] = score_outputs(tickets, outs, engine, aids, detect, srcs)
            report["modes"][mode] = grouped(per_ticket[mode])
        db.dispose()
    report["similar_reply"] = _similar_subset(per_ticket, outs_by_mode["aided"])
    report["drafts"] = {
        t.id: {m: {"draft": outs_by_mode[m][i].draft, "warnings": outs_by_mode[m][i].warnings,
                   "suggestion": outs_by_mode[m][i].suggestion} for m in outs_by_mode}
        for i, t in enumerate(tickets)
    }  # fmt: skip
    return report


def _examples(db: Any) -> list[ReplyExample]:
    with Session(db) as s:
        return list(s.exec(select(ReplyExample)))


def _similar_subset(
    scores: dict[str, list[DraftScore]], aided: Sequence[TriageOutput]
) -> dict[str, Any]:
    """Tickets with a similar approved reply or template: plain draft against what the aided
    pipeline offers (its draft, and the suggestion the reviewer can take)."""
    idx = [i for i, o in enumerate(aided) if o.suggestion]
    if not idx:
        return {"n": 0}

    def mean(values: list[float | None]) -> float:
        got = [v for v in values if v is not None]
        return round(sum(got) / len(got), 3) if got else 0.0

    plain = [scores["plain"][i] for i in idx]
    after = [scores["aided"][i] for i in idx]
    out: dict[str, Any] = {"n": len(idx)}
    for metric in ("cosine", "rouge_l"):
        p = mean([getattr(s, metric) for s in plain])
        d = mean([getattr(s, metric) for s in after])
        g = mean([getattr(s, f"suggestion_{metric}") for s in after])
        out[metric] = {"plain_draft": p, "aided_draft": d, "suggestion": g,
                       "suggestion_vs_plain": round(g / p, 2) if p else None,
                       "aided_draft_vs_plain": round(d / p, 2) if p else None}  # fmt: skip
    return out


def score_reviews(
    db: Any, engine: Engine, detect: Callable[[str], str], limit: int
) -> dict[str, Any]:
    """Reviewed tickets: drafts against what was sent, approval rate, edit distance."""
    with Session(db) as session:
        rows = session.exec(
            select(Review, TriageResult)
            .join(TriageResult, col(TriageResult.id) == col(Review.triage_result_id))
            .order_by(col(Review.id).desc())
            .limit(limit)
        ).all()
    if not rows:
        return {"tickets": 0, "modes": {}}
    sent = [(r, t) for r, t in rows if r.final_reply]
    sims = dict(zip([id(r) for r, _ in sent], cosines(
        engine.embed([t.draft_reply for _, t in sent]),
        engine.embed([r.final_reply or "" for r, _ in sent])), strict=True))  # fmt: skip
    scores = []
    for review, result in rows:
        lang = review.corrected_language or result.language
        stored = [w for w in result.warnings or [] if not w.get("fixed")]
        s = DraftScore(lang, review.corrected_category or result.category)
        s.violations = [str(w["code"]) for w in stored if w["code"] not in NOT_VIOLATIONS]
        fallback = any(w["code"] == LANGUAGE_FALLBACK for w in stored)
        s.language_match = detect(result.draft_reply) == lang or fallback
        s.cited = any(c.get("cited") for c in result.citations) if result.citations else None
        s.words, s.decision = words(result.draft_reply), ReviewDecision(review.decision).value
        if review.final_reply:
            s.cosine = sims[id(review)]
            s.rouge_l = rouge_l(result.draft_reply, review.final_reply)
            s.edit_distance = edit_distance(result.draft_reply, review.final_reply)
        scores.append(s)
    return {"tickets": len(rows), "modes": {"reviewed": grouped(scores)}}
