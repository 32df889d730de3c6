"""`ticketflow report`, `GET /insights` and the page, on a seeded database (SQLite and
PostgreSQL): every number is counted by hand from the seed below."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from review.insights import build_insights, edit_distance, period_start
from shared.models import Review, ReviewDecision, TicketStatus
from tests.factories import PASSWORD, make_result, make_ticket, make_user
from tests.helpers import log_in
from tests.producer.conftest import KEY
from ticketflow.cli import app

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # a Friday
CITE = [{"n": 1, "doc_id": "refunds", "chunk": 0, "title": "Refunds", "url": None, "score": 0.8}]


def _review(session: Session, ticket_id: int, result_id: int, **fields: Any) -> None:
    at = fields.pop("at")
    session.add(
        Review(
            ticket_id=ticket_id, triage_result_id=result_id, reviewer="ana", created_at=at, **fields
        )
    )
    session.commit()


def seed(session: Session, now: datetime = NOW) -> None:
    """Six tickets: 3 billing (one with no article), 2 shipping (no article), 1 out of window."""

    def ticket(
        days_ago: float, category: str, sentiment: str, cites: list[Any], text: str = "x", **kw: Any
    ) -> tuple[int, int]:
        subject, _, body = text.partition("|")
        t = make_ticket(
            session,
            received_at=now - timedelta(days=days_ago),
            status=TicketStatus.triaged,
            subject=subject,
            body=body or subject,
        )
        r = make_result(
            session, t.id, category=category, sentiment=sentiment, citations=cites, **kw
        )
        assert t.id is not None and r.id is not None
        return t.id, r.id

    b1 = ticket(
        0.5, "billing", "negative", CITE, draft_reply="We refunded the second charge today."
    )
    b2 = ticket(1.5, "billing", "negative", CITE, language="es", draft_reply="Hola, lo revisamos.")
    b3 = ticket(8, "billing", "neutral", [], draft_reply="Thanks for your message.")
    s1 = ticket(
        2, "shipping", "negative", [],
        "Parcel stuck in customs|Tracking 48213 says customs since Monday, mail maria@example.com",
        draft_reply="Your parcel is on its way to you.",
    )  # fmt: skip
    s2 = ticket(
        9, "shipping", "positive", [],
        "Customs fee for my parcel?|Do I pay the customs fee? maria@example.com",
        draft_reply="Glad it arrived.",
    )  # fmt: skip
    ticket(60, "billing", "neutral", [])  # outside a 28-day window
    later = now - timedelta(hours=1)
    _review(session, *b1, decision=ReviewDecision.approve, final_reply="x", at=later)
    # Two of six words changed: edit distance 2/6.
    _review(
        session, *s1, decision=ReviewDecision.edit, edited=True,
        final_reply="Your parcel was lost; a new one ships today.",
        corrected_category="billing", at=later,
    )  # fmt: skip
    _review(session, *s2, decision=ReviewDecision.reject, corrected_priority="high", at=later)
    _review(session, *b2, decision=ReviewDecision.approve, corrected_sentiment="neutral", at=later)
    del b3


def test_edit_distance_counts_words() -> None:
    assert edit_distance("a b c", "a b c") == 0
    assert edit_distance("a b c", "a x c") == pytest.approx(1 / 3)
    assert edit_distance("", "") == 0 and edit_distance("a", "") == 1
    assert period_start(NOW, "week").isoformat() == "2026-11-30"  # Monday


def test_insights_on_a_seeded_database(session: Session) -> None:
    seed(session)
    got = build_insights(session, days=28, period="week", now=NOW)
    assert got.tickets == 5
    intents = {(str(p.period), p.label): p.tickets for p in got.intents}
    assert intents == {
        ("2026-11-30", "billing"): 2,
        ("2026-11-30", "shipping"): 1,
        ("2026-11-23", "billing"): 1,
        ("2026-11-23", "shipping"): 1,
    }
    moods = {(str(p.period), p.label): p.tickets for p in got.sentiment}
    assert moods[("2026-11-30", "negative")] == 3 and moods[("2026-11-23", "positive")] == 1

    drafts = {(d.category, d.language): d for d in got.drafts}
    assert set(drafts) == {("billing", "en"), ("billing", "es"), ("shipping", "en")}
    ship = drafts[("shipping", "en")]
    assert (ship.reviewed, ship.approved, ship.edited, ship.rejected) == (2, 0, 1, 1)
    assert ship.acceptance_rate == 0
    # "Your parcel is on its way to you." -> "Your parcel was lost; a new one ships today."
    assert ship.mean_edit_distance == pytest.approx(edit_distance(
        "Your parcel is on its way to you.", "Your parcel was lost; a new one ships today."
    ))  # fmt: skip
    assert 0.5 < ship.mean_edit_distance < 1
    assert drafts[("billing", "en")].acceptance_rate == 1
    assert drafts[("billing", "en")].mean_edit_distance is None

    corr = got.corrections
    assert [c.category for c in corr] == ["shipping", "billing"]  # weakest first
    assert (corr[0].category_corrected, corr[0].correction_rate) == (1, 0.5)
    assert corr[0].corrected_to == {"billing": 1} and corr[0].other_labels_corrected == 1
    assert (corr[1].category_corrected, corr[1].other_labels_corrected) == (0, 1)

    gaps = {g.category: g for g in got.knowledge_gaps}
    assert (gaps["shipping"].without_article, gaps["shipping"].share) == (2, 1.0)
    # Words both tickets use; one ticket's own words, numbers and addresses never show.
    assert gaps["shipping"].topic_words == ["customs", "parcel"]
    assert gaps["billing"].topic_words == []  # one ticket: nothing shared
    assert (gaps["billing"].tickets, gaps["billing"].without_article) == (3, 1)
    assert got.knowledge_gaps[0].category == "shipping"  # most tickets without an article first


def test_report_command_prints_the_insights(
    session: Session, settings_env: Any, db_url: str, tmp_path: Any
) -> None:
    seed(session, now=datetime.now(UTC))
    settings_env(database_url=db_url, data_dir=tmp_path)
    r = CliRunner().invoke(app, ["report", "--days", "28", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["tickets"] == 5
    assert {g["category"]: g["without_article"] for g in data["knowledge_gaps"]} == {
        "shipping": 2,
        "billing": 1,
    }
    r = CliRunner().invoke(app, ["report", "--by", "day"])
    assert r.exit_code == 0, r.output
    assert "No relevant help article" in r.output and "shipping" in r.output
    bad = CliRunner().invoke(app, ["report", "--by", "month"])
    assert bad.exit_code == 2 and "--by must be" in bad.output


def test_insights_endpoint_and_page(client: TestClient, session: Session) -> None:
    seed(session, now=datetime.now(UTC))
    r = client.get("/insights", params={"days": 28, "by": "day"}, headers=KEY)
    assert r.status_code == 200
    assert r.json()["tickets"] == 5 and r.json()["period"] == "day"
    assert client.get("/insights", params={"by": "month"}, headers=KEY).status_code == 422
    assert client.get("/insights", params={"days": 0}, headers=KEY).status_code == 422
    make_user(session, "ines")
    log_in(client, "ines", PASSWORD, "/ui/insights")
    page = client.get("/ui/insights")
    assert page.status_code == 200 and 'src="/static/insights.js"' in page.text
    assert "/insights?days=" in client.get("/static/insights.js").text
