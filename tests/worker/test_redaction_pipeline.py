"""A ticket full of personal data: no model input carries it, the stored draft shows safe forms."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, select

from privacy import Redactor
from shared.models import TriageResult
from tests.factories import make_result, make_ticket
from tests.worker.doubles import RecordingEngine
from worker.engine.base import Classification
from worker.pipeline.triage import TriageJob, TriageOutput, process_ticket, run_batch

PLANTED = [
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "078-05-1120",
    "ana.lopez@example.org",
    "+1 415-555-2671",
    "203.0.113.42",
    "Hunter2!xyz",
]
BODY = (
    "My card 4111 1111 1111 1111 was charged twice. Refund to IBAN DE89 3704 0044 0532 0130 00."
    " SSN 078-05-1120, write to ana.lopez@example.org or call +1 415-555-2671. I logged in from"
    " 203.0.113.42, my password is Hunter2!xyz"
)


class SeeingEngine(RecordingEngine):
    """Records every classifier input too."""

    def __init__(self, reply: str | None = None) -> None:
        super().__init__(reply)
        self.classified: list[str] = []

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        self.classified.extend(texts)
        return super().classify(texts)


def _triage(db: DbEngine, engine: SeeingEngine, ticket_id: int, redactor: Redactor) -> None:
    def submit(job: TriageJob) -> TriageOutput:
        return run_batch(engine, [job], redactor=redactor)[0]

    process_ticket(ticket_id, 1, db=db, engine=engine, submit=submit, worker="t", threshold=0.5)


def _everything_the_models_saw(engine: SeeingEngine) -> str:
    chats = "\n".join(m["content"] for chat in engine.chats for m in chat)
    embedded = "\n".join(t for call in engine.embedder.calls for t in call)
    return "\n".join([chats, embedded, *engine.classified])


def test_no_planted_value_reaches_prompt_classifier_or_history(
    session: Session, db_engine: DbEngine
) -> None:
    earlier = make_ticket(
        session,
        customer_email="ana.lopez@example.org",
        subject="Card 4111 1111 1111 1111 blocked",
        body=BODY,
        received_at=datetime.now(UTC) - timedelta(days=3),
    )
    make_result(session, earlier.id)
    ticket = make_ticket(
        session,
        customer_email="ana.lopez@example.org",
        customer_name="Ana ana.lopez@example.org",
        subject="Again: card 4111-1111-1111-1111",
        body=BODY,
    )
    engine = SeeingEngine(reply="We refunded card [CARD_1]; we will mail [EMAIL_1]. [SECRET_1]")
    _triage(db_engine, engine, ticket.id, Redactor())
    seen = _everything_the_models_saw(engine)
    assert engine.chats and engine.classified  # retrieval embeds the same texts as classify
    for value in PLANTED:
        assert value not in seen
    user = engine.chats[0][1]["content"]
    history = user[user.index("<history>") : user.index("</history>")]
    assert "[CARD_1]" in history and "[IBAN_1]" in history  # one vault for the whole prompt
    assert "[CARD_1]" in engine.classified[0] and "[SSN_1]" in engine.classified[0]
    draft = session.exec(select(TriageResult).where(TriageResult.ticket_id == ticket.id)).one()
    assert "We refunded card \u2022\u2022\u2022\u2022 1111;" in draft.draft_reply
    assert "ana.lopez@example.org" in draft.draft_reply and "[withheld]" in draft.draft_reply
    assert "4111 1111" not in draft.draft_reply and "Hunter2" not in draft.draft_reply


def test_redaction_follows_the_configured_types(session: Session, db_engine: DbEngine) -> None:
    ticket = make_ticket(session, body=BODY)
    engine = SeeingEngine()
    _triage(db_engine, engine, ticket.id, Redactor(("card",)))
    seen = _everything_the_models_saw(engine)
    assert "4111 1111 1111 1111" not in seen and "ana.lopez@example.org" in seen
