"""Training data from reviews, on SQLite and PostgreSQL: corrections win, rejections teach
nothing unless corrected, approvals confirm the predicted labels."""

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from shared.models import Review, ReviewDecision
from tests.conftest import SetEnv
from tests.factories import make_result, make_ticket
from ticketflow.cli import app
from training.from_reviews import review_examples
from worker.engine.classifier.artifacts import latest_version


def reviewed(
    session: Session,
    n: int,
    decision: ReviewDecision,
    predicted: tuple[str, str, str],
    **corrections: Any,
) -> None:
    ticket = make_ticket(session, external_id=str(n), subject=f"ticket {n}", body=f"body {n}")
    category, priority, sentiment = predicted
    result = make_result(
        session, ticket.id, category=category, priority=priority, sentiment=sentiment
    )
    session.add(
        Review(
            ticket_id=ticket.id,
            triage_result_id=result.id,
            decision=decision,
            reviewer="rita",
            **corrections,
        )
    )
    session.commit()


@pytest.fixture
def reviews(session: Session) -> None:
    reviewed(session, 1, ReviewDecision.approve, ("billing", "normal", "neutral"))
    reviewed(
        session,
        2,
        ReviewDecision.reject,
        ("other", "low", "neutral"),
        corrected_category="refund_cancellation",
    )
    reviewed(session, 3, ReviewDecision.reject, ("complaint", "urgent", "negative"))
    reviewed(
        session,
        4,
        ReviewDecision.edit,
        ("billing", "high", "negative"),
        corrected_priority="urgent",
    )
    reviewed(
        session,
        5,
        ReviewDecision.approve,
        ("technical_issue", "high", "positive"),
        corrected_sentiment="negative",
    )


def test_review_labels_follow_the_rules(session: Session, reviews: None) -> None:
    got = {e.text: e.labels for e in review_examples(session)}
    assert got == {
        "ticket 1\nbody 1": {"category": "billing", "priority": "normal", "sentiment": "neutral"},
        "ticket 2\nbody 2": {"category": "refund_cancellation"},  # rejected: only the correction
        # ticket 3: rejected without a correction -> not used at all
        "ticket 4\nbody 4": {"category": "billing", "priority": "urgent", "sentiment": "negative"},
        "ticket 5\nbody 5": {
            "category": "technical_issue",
            "priority": "high",
            "sentiment": "negative",
        },
    }


@pytest.fixture
def cli_env(
    db_url: str, tmp_path: Path, tiny_models: tuple[Path, Path], settings_env: SetEnv
) -> Path:
    settings_env(database_url=db_url, data_dir=tmp_path, device="cpu", encoder_model=tiny_models[1])
    return tmp_path / "heads"


def test_train_from_db_uses_the_corrected_labels(reviews: None, cli_env: Path) -> None:
    result = CliRunner().invoke(
        app, ["train", "--from-db", "--epochs", "1", "--calib-fraction", "0"]
    )
    assert result.exit_code == 0, result.output
    version = latest_version(cli_env)
    assert version is not None
    meta = json.loads((cli_env / version / "meta.json").read_text())
    assert meta["labels"] == {
        "category": ["billing", "refund_cancellation", "technical_issue"],
        "priority": ["high", "normal", "urgent"],
        "sentiment": ["negative", "neutral"],
    }
    assert meta["source"] == "reviews"


def test_train_without_data_is_a_clear_error(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--from-db"])
    assert result.exit_code == 2 and "no labelled examples" in result.output
    assert latest_version(cli_env) is None


@pytest.fixture
def one_priority(session: Session) -> None:
    """What a real queue often looks like: categories vary, every priority is "normal"."""
    for n, category in enumerate(["billing", "billing", "technical_issue", "complaint"], 1):
        reviewed(session, n, ReviewDecision.approve, (category, "normal", "neutral"))


def test_single_label_fields_are_skipped_with_a_warning(one_priority: None, cli_env: Path) -> None:
    result = CliRunner().invoke(
        app, ["train", "--from-db", "--epochs", "1", "--calib-fraction", "0", "--frozen"]
    )
    assert result.exit_code == 0, result.output
    assert "warning: not training 'priority': every example has the label 'normal'" in (
        result.output
    )
    assert "warning: not training 'sentiment'" in result.output
    version = latest_version(cli_env)
    assert version is not None
    meta = json.loads((cli_env / version / "meta.json").read_text())
    assert meta["labels"] == {"category": ["billing", "complaint", "technical_issue"]}


def test_train_from_db_honours_field(one_priority: None, cli_env: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["train", "--from-db", "--field", "category", "--epochs", "1", "--calib-fraction", "0"],
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output  # priority and sentiment were never asked for
    version = latest_version(cli_env)
    assert version is not None
    meta = json.loads((cli_env / version / "meta.json").read_text())
    assert list(meta["labels"]) == ["category"]


def test_only_single_label_fields_is_a_clear_error(session: Session, cli_env: Path) -> None:
    for n in (1, 2):
        reviewed(session, n, ReviewDecision.approve, ("billing", "normal", "neutral"))
    result = CliRunner().invoke(app, ["train", "--from-db", "--epochs", "1"])
    assert result.exit_code == 2, result.output
    assert "error: no field has examples of at least two labels" in result.output
