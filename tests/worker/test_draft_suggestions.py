"""Approved replies as suggestions and examples, and languages the draft model cannot write,
through the real pipeline (run_batch + DraftAids) on the database, with deterministic models."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, select

from knowledge.templates import import_templates
from review.service import submit_review
from shared.models import ReviewCreate, Ticket, TicketStatus, TriageResult
from tests.factories import make_ticket
from tests.worker.doubles import RecordingEngine
from worker.drafting.draft_aids import DraftAids, DraftRules
from worker.drafting.guardrails import DEFAULT_PROMISE_PHRASES
from worker.drafting.suggestions import ExampleIndex
from worker.engine.base import Classification, Label
from worker.pipeline.triage import Outcome, process_ticket, run_batch

SAMPLE_TEMPLATES = "ticketflow/samples/templates"


class LanguageEngine(RecordingEngine):
    """Fake labels, with the language a ticket says it is in ("lang:de")."""

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        out = []
        for text, lab in zip(texts, super().classify(texts), strict=True):
            code = text.split("lang:", 1)[1][:2] if "lang:" in text else "en"
            out.append(dataclasses.replace(lab, language=Label(code, 0.9)))
        return out


def aids(db: DbEngine, engine: RecordingEngine, languages: str = "en") -> DraftAids:
    rules = DraftRules(
        frozenset(languages.split(",")),
        "en",
        "The Support Team",
        (),
        DEFAULT_PROMISE_PHRASES,
        frozenset({"contact", "placeholder"}),
        2,
    )
    return DraftAids(rules, ExampleIndex(db, engine, min_similarity=0.5, refresh_s=0.0))


def triage(
    db: DbEngine, engine: RecordingEngine, helper: DraftAids, ticket: Ticket
) -> TriageResult:
    tid = ticket.id or 0
    outcome = process_ticket(
        tid,
        ticket.revision,
        db=db,
        engine=engine,
        submit=lambda job: run_batch(engine, [job], None, aids=helper)[0],
        worker="test",
        threshold=0.5,
    )
    assert outcome is Outcome.triaged
    with Session(db) as s:
        return s.exec(select(TriageResult).where(TriageResult.ticket_id == tid)).one()


def review(session: Session, ticket: Ticket, decision: str, reply: str | None = None) -> None:
    session.expire_all()  # the worker changed the ticket in its own session
    data = ReviewCreate(decision=decision, reviewer="sam", revision=1, edited_reply=reply)
    submit_review(session, ticket.id or 0, data, {})


@pytest.fixture
def engine() -> LanguageEngine:
    return LanguageEngine()


def test_an_approved_reply_is_suggested_for_a_similar_ticket_with_details_swapped(
    session: Session, db_engine: DbEngine, engine: LanguageEngine
) -> None:
    helper = aids(db_engine, engine)
    first = make_ticket(
        session,
        customer_name="Peter Okafor",
        subject="Where is my order #48213?",
        body="My parcel was supposed to arrive last Friday. Tracking says in transit.",
    )
    triage(db_engine, engine, helper, first)
    review(
        session,
        first,
        "edit",
        "Dear Peter,\n\nWe have opened an investigation with the carrier for order #48213.\n\n"
        "The Support Team",
    )
    rejected = make_ticket(session, subject="Where is my parcel", body="parcel tracking arrive")
    triage(db_engine, engine, helper, rejected)
    review(session, rejected, "reject")

    second = make_ticket(
        session,
        customer_name="Grace Wright",
        subject="Where is my order #77120?",
        body="My parcel was supposed to arrive on Monday. Tracking says in transit.",
    )
    result = triage(db_engine, engine, helper, second)
    assert result.suggestion is not None
    assert result.suggestion["source"] == f"Based on the reply approved for #{first.id}"
    assert result.suggestion["reply"].startswith("Dear Grace,")
    assert "#77120" in result.suggestion["reply"] and "48213" not in result.suggestion["reply"]
    prompt = engine.chats[-1][1]["content"]
    assert "Replies our team approved for similar tickets" in prompt
    assert prompt.index("Example 1:") < prompt.index("<ticket>")
    examples = prompt[prompt.index("Example 1:") : prompt.index("<ticket>")]
    assert "Peter" not in examples and "48213" not in examples  # fitted to the new ticket
    assert "Dear Grace," in examples
    # The rejected ticket's draft was never an example.
    assert "ref " not in prompt.split("<ticket>")[0]
    assert all(w["code"] != "contact" for w in result.warnings)


def test_no_suggestion_below_the_threshold_or_in_another_language(
    session: Session, db_engine: DbEngine, engine: LanguageEngine
) -> None:
    import_templates(session, [Path(SAMPLE_TEMPLATES)])
    session.commit()
    helper = aids(db_engine, engine)
    unrelated = make_ticket(session, subject="Dark mode", body="Do you have a dark theme?")
    assert triage(db_engine, engine, helper, unrelated).suggestion is None


def test_a_language_the_model_cannot_write_gets_a_flagged_team_language_draft(
    session: Session, db_engine: DbEngine, engine: LanguageEngine
) -> None:
    helper = aids(db_engine, engine)
    t = make_ticket(
        session,
        customer_name="Klaus Schmidt",
        subject="Frage lang:de",
        body="Guten Tag, haben Sie einen dunklen Modus?",
    )
    result = triage(db_engine, engine, helper, t)
    assert result.language == "de"  # what the customer wrote stays recorded
    assert result.draft_reply.startswith("Dear Klaus,")
    assert "Write the reply in English." in engine.chats[-1][1]["content"]
    fallback = result.warnings[0]
    assert fallback["code"] == "language_fallback" and "English" in fallback["message"]


def test_a_template_in_that_language_is_used_instead_of_the_model(
    session: Session, db_engine: DbEngine, engine: LanguageEngine
) -> None:
    import_templates(session, [Path(SAMPLE_TEMPLATES)])
    session.commit()
    helper = aids(db_engine, engine)
    t = make_ticket(
        session,
        customer_name="Klaus Schmidt",
        subject="Rechnung falsch lang:de",
        body="Meine Rechnung ist falsch, mir wurde ein zu hoher Betrag berechnet. Bitte "
        "korrigieren Sie die Rechnung.",
    )
    calls = len(engine.chats)
    result = triage(db_engine, engine, helper, t)
    assert len(engine.chats) == calls  # no generation for it
    assert result.draft_reply.startswith("Hallo Klaus,")
    assert result.suggestion is not None
    assert result.suggestion["template_id"] == "wrong-invoice-de"
    assert any("wrong-invoice-de" in w["message"] for w in result.warnings)
    with Session(db_engine) as s:
        assert s.get(Ticket, t.id).status == TicketStatus.triaged  # type: ignore[union-attr]
