"""What managers ask of the data: what customers write about, how good the drafts are, where the
classifier and the knowledge base fall short. Numbers straight from the database.

- intents and sentiment per day or week, by when the customer wrote (``received_at``, else
  when the ticket was stored), from each ticket's newest triage result;
- drafts per category and language: how many reviewers approved as is, edited, rejected, and
  how much an edit changed (word-level edit distance over the longer text: 0 unchanged, 1
  rewritten), from each review and the result it decided on;
- label corrections per predicted category: where the classifier is weakest;
- tickets whose draft had no help passage above ``TICKETFLOW_KB_MIN_SIMILARITY``, per
  category, with the topic words those tickets share: what to write next (ticket ids as
  examples; a word is shown only when at least ``MIN_TOPIC_TICKETS`` tickets use it, and
  never one with a digit or an ``@``, so no single customer's text or number is).

Rows are read for a window (``days``) and counted here rather than in SQL, so the grouping is
the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from shared.models import Review, ReviewDecision, Ticket, TriageResult, utcnow

Period = Literal["day", "week"]
EXAMPLES = 5
TOPIC_WORDS = 6
MIN_TOPIC_TICKETS = 2
TOPIC_TEXT = 400  # characters of subject and body read per ticket
_WORD = re.compile(r"[^\W\d_]{4,}")  # letters only: no numbers or ids
_ADDRESS = re.compile(r"\S*@\S*|\S*://\S*")  # e-mail addresses and links go first, whole
# Words every support ticket uses; they say nothing about what article is missing.
_COMMON = frozenset(
    """about after again also been before being could dear does from have hello help here just
    know like made make need please really regards since still thank thanks that their them
    then there they this time very want were what when which will with would your yours hola
    bonjour hallo merci danke gracias bitte""".split()  # noqa: SIM905
)


class PeriodCount(BaseModel):
    period: date  # the day, or the Monday of the week
    label: str
    tickets: int


class DraftQuality(BaseModel):
    category: str
    language: str
    reviewed: int
    approved: int
    edited: int
    rejected: int
    acceptance_rate: float  # approved as is, of reviewed
    mean_edit_distance: float | None  # over edited drafts


class LabelCorrections(BaseModel):
    category: str  # as predicted
    reviewed: int
    category_corrected: int
    correction_rate: float
    corrected_to: dict[str, int]
    other_labels_corrected: int  # priority, sentiment or language


class KnowledgeGap(BaseModel):
    category: str
    tickets: int
    without_article: int
    share: float
    topic_words: list[str]  # shared by the tickets without an article, most frequent first
    example_ticket_ids: list[int]


class Insights(BaseModel):
    since: datetime
    until: datetime
    period: Period
    tickets: int
    intents: list[PeriodCount]
    sentiment: list[PeriodCount]
    drafts: list[DraftQuality]
    corrections: list[LabelCorrections]
    knowledge_gaps: list[KnowledgeGap]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def period_start(at: datetime, period: Period) -> date:
    day = _aware(at).astimezone(UTC).date()
    return day - timedelta(days=day.weekday()) if period == "week" else day


def edit_distance(a: str, b: str) -> float:
    """Word-level Levenshtein distance over the longer text's length: 0 same, 1 rewritten."""
    x, y = a.split(), b.split()
    if not x and not y:
        return 0.0
    prev = list(range(len(y) + 1))
    for i, wx in enumerate(x, start=1):
        cur = [i]
        for j, wy in enumerate(y, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (wx != wy)))
        prev = cur
    return prev[-1] / max(len(x), len(y))


def _topic_words(text: str) -> set[str]:
    """The distinct content words of one ticket (each ticket counts a word once)."""
    found = {w.lower() for w in _WORD.findall(_ADDRESS.sub(" ", text[:TOPIC_TEXT]))}
    return {w for w in found if w not in _COMMON}


def _per_period(rows: list[tuple[date, str]]) -> list[PeriodCount]:
    counts = Counter(rows)
    return [PeriodCount(period=p, label=lab, tickets=n) for (p, lab), n in sorted(counts.items())]


def build_insights(
    session: Session, days: int = 28, period: Period = "day", now: datetime | None = None
) -> Insights:
    until = now or utcnow()
    since = until - timedelta(days=days)
    when = func.coalesce(col(Ticket.received_at), col(Ticket.created_at))
    newest = (
        select(col(Ticket.id), when, TriageResult.category, TriageResult.sentiment)
        .add_columns(col(TriageResult.citations), col(Ticket.subject), col(Ticket.body))
        .join(
            TriageResult,
            and_(
                col(TriageResult.ticket_id) == col(Ticket.id),
                col(TriageResult.revision) == col(Ticket.revision),
            ),
        )
        .where(when >= since, when <= until)
    )
    rows = list(session.execute(newest).all())
    intents = [(period_start(at, period), row[2]) for row in rows for at in [row[1]]]
    moods = [(period_start(at, period), row[3]) for row in rows for at in [row[1]]]

    per_cat: Counter[str] = Counter(row[2] for row in rows)
    gaps: dict[str, list[int]] = defaultdict(list)
    words: dict[str, Counter[str]] = defaultdict(Counter)
    for tid, _, cat, _, cites, subject, body in rows:
        if not cites:
            gaps[cat].append(tid)
            words[cat].update(_topic_words(f"{subject or ''} {body or ''}"))
    knowledge_gaps = [
        KnowledgeGap(
            category=cat,
            tickets=per_cat[cat],
            without_article=len(ids),
            share=len(ids) / per_cat[cat],
            topic_words=[
                w
                for w, n in sorted(words[cat].items(), key=lambda wn: (-wn[1], wn[0]))
                if n >= MIN_TOPIC_TICKETS
            ][:TOPIC_WORDS],
            example_ticket_ids=sorted(ids)[-EXAMPLES:],
        )
        for cat, ids in sorted(gaps.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]

    reviewed = list(
        session.exec(
            select(Review, TriageResult)
            .join(TriageResult, col(TriageResult.id) == col(Review.triage_result_id))
            .where(col(Review.created_at) >= since, col(Review.created_at) <= until)
        ).all()
    )
    return Insights(
        since=since,
        until=until,
        period=period,
        tickets=len(rows),
        intents=_per_period(intents),
        sentiment=_per_period(moods),
        drafts=_draft_quality(reviewed),
        corrections=_corrections(reviewed),
        knowledge_gaps=knowledge_gaps,
    )


def _draft_quality(reviewed: list[tuple[Review, TriageResult]]) -> list[DraftQuality]:
    groups: dict[tuple[str, str], list[tuple[Review, TriageResult]]] = defaultdict(list)
    for rev, res in reviewed:
        groups[(res.category, res.language)].append((rev, res))
    out = []
    for (cat, lang), pairs in sorted(groups.items()):
        decisions = Counter(rev.decision for rev, _ in pairs)
        distances = [
            edit_distance(res.draft_reply, rev.final_reply or "")
            for rev, res in pairs
            if rev.decision == ReviewDecision.edit
        ]
        out.append(
            DraftQuality(
                category=cat,
                language=lang,
                reviewed=len(pairs),
                approved=decisions[ReviewDecision.approve],
                edited=decisions[ReviewDecision.edit],
                rejected=decisions[ReviewDecision.reject],
                acceptance_rate=decisions[ReviewDecision.approve] / len(pairs),
                mean_edit_distance=sum(distances) / len(distances) if distances else None,
            )
        )
    return out


def _corrections(reviewed: list[tuple[Review, TriageResult]]) -> list[LabelCorrections]:
    groups: dict[str, list[tuple[Review, TriageResult]]] = defaultdict(list)
    for rev, res in reviewed:
        groups[res.category].append((rev, res))
    out = []
    for cat, pairs in groups.items():
        to = Counter(
            rev.corrected_category
            for rev, _ in pairs
            if rev.corrected_category and rev.corrected_category != cat
        )
        others = sum(
            1
            for rev, res in pairs
            if (rev.corrected_priority and rev.corrected_priority != res.priority)
            or (rev.corrected_sentiment and rev.corrected_sentiment != res.sentiment)
            or (rev.corrected_language and rev.corrected_language != res.language)
        )
        n = sum(to.values())
        out.append(
            LabelCorrections(
                category=cat,
                reviewed=len(pairs),
                category_corrected=n,
                correction_rate=n / len(pairs),
                corrected_to=dict(to.most_common()),
                other_labels_corrected=others,
            )
        )
    return sorted(out, key=lambda c: (-c.correction_rate, c.category))
