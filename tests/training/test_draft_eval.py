"""`eval-drafts`: metrics, the before/after file evaluation and the review scoring, on
deterministic models (the bundled model's figures are in docs/benchmarks.md)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session

from shared.models import Review, ReviewDecision
from tests.factories import make_result, make_ticket
from tests.worker.doubles import RecordingEngine
from training.draft_eval import load_eval_file, run_file_eval, score_reviews
from training.draft_metrics import edit_distance, rouge_l
from worker.drafting.draft_aids import DraftAids, DraftRules
from worker.drafting.guardrails import DEFAULT_PROMISE_PHRASES
from worker.drafting.suggestions import ExampleIndex
from worker.engine.base import Classification
from worker.engine.language import LanguageDetector

SAMPLES = Path(__file__).resolve().parents[2] / "ticketflow" / "samples"


class DetectingEngine(RecordingEngine):
    """Fake labels and drafts, with the language lingua detects (the real engine's way)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.language = LanguageDetector(["en", "de", "es", "fr", "it", "zh"])

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        return [
            dataclasses.replace(lab, language=self.language.detect(text))
            for text, lab in zip(texts, super().classify(texts), strict=True)
        ]


def test_rouge_l_and_edit_distance_cover_every_script() -> None:
    assert rouge_l("我们正在核对您的发票", "我们正在核对您的账单") > 0.6
    assert rouge_l("Dear Anna, thanks", "Dear Anna, thanks") == 1.0
    assert rouge_l("völlig anders", "nothing alike") == 0.0
    assert edit_distance("same", "same") == 0.0 and edit_distance("ab", "cd") == 1.0


def test_file_evaluation_before_and_after_in_one_run(tmp_path: Path) -> None:
    rows = [json.loads(x) for x in (SAMPLES / "eval" / "tickets.jsonl").read_text().splitlines()]
    picked = [r for r in rows if r["id"] in ("ev-01", "ev-04", "ev-13", "ev-29")]
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in picked))
    # A model that invents a phone number and leaves a placeholder in every draft.
    engine = DetectingEngine(reply=" Call us at 0800 555 0199. Regards, [Agent Name]")

    def aids(db: Any) -> DraftAids:
        blocking = frozenset({"contact", "placeholder"})
        rules = DraftRules(frozenset({"en"}), "en", "The Support Team", (),
                           DEFAULT_PROMISE_PHRASES, blocking, 2)  # fmt: skip
        detect = lambda text: engine.language.detect(text).name  # noqa: E731
        return DraftAids(rules, ExampleIndex(db, engine, min_similarity=0.5), detect)

    report = run_file_eval(
        engine,
        aids,
        load_eval_file(path),
        kb=[SAMPLES / "kb"],
        templates=[SAMPLES / "templates"],
        approved=SAMPLES / "eval" / "approved.jsonl",
        batch_size=8,
    )
    plain, aided = report["modes"]["plain"]["all"], report["modes"]["aided"]["all"]
    assert plain["n"] == aided["n"] == 4
    assert plain["unflagged_contacts"] == 4 and plain["unflagged_placeholders"] == 4
    assert aided["unflagged_contacts"] == 0 and aided["unflagged_placeholders"] == 0
    assert plain["violation_rate"] == 1.0
    assert (
        "language=de" in report["modes"]["aided"] and "category=billing" in report["modes"]["plain"]
    )
    # ev-29 (German) gets the approved German reply as its draft: no model call for it.
    de = report["drafts"]["ev-29"]["aided"]
    assert de["draft"].startswith("Hallo Sabine,") and de["suggestion"]["ticket_id"] is not None
    sim = report["similar_reply"]
    assert sim["n"] >= 2
    assert sim["rouge_l"]["suggestion"] > sim["rouge_l"]["plain_draft"]


def test_reviews_are_scored_against_what_was_sent(session: Session, db_engine: DbEngine) -> None:
    for decision, final in (
        ("approve", None),
        ("edit", "Dear Ana,\n\nRefunded."),
        ("reject", None),
    ):
        t = make_ticket(session)
        r = make_result(session, t.id, draft_reply="Dear Ana,\n\nWe are looking into it.",
                        warnings=[{"code": "contact", "message": "x", "blocking": True,
                                   "fixed": False}] if decision == "reject" else [])  # fmt: skip
        sent = r.draft_reply if decision == "approve" else final
        session.add(Review(ticket_id=t.id or 0, triage_result_id=r.id or 0,
                           decision=ReviewDecision(decision), reviewer="sam", final_reply=sent,
                           edited=decision == "edit"))  # fmt: skip
    session.commit()
    report = score_reviews(db_engine, RecordingEngine(), lambda _t: "en", 100)
    figures = report["modes"]["reviewed"]["all"]
    assert report["tickets"] == 3 and figures["approval_rate"] == round(1 / 3, 3)
    assert figures["violation_rate"] == round(1 / 3, 3)
    assert 0 < figures["edit_distance"] < 1  # mean of the approval (0) and the edit
