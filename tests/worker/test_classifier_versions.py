"""Classifier versions: a running classifier or engine swaps to what LATEST names, safely."""

from pathlib import Path

import pytest
import torch
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, select

from shared.config import load_settings
from shared.models import TriageResult
from shared.taxonomy import load_taxonomy
from tests.factories import make_ticket
from worker.engine.classifier.artifacts import LATEST, latest_version, publish, save_artifact
from worker.engine.classifier.classifier import TicketClassifier
from worker.engine.classifier.heads import Head
from worker.engine.transformers_engine import TransformersEngine
from worker.pipeline.triage import TriageJob, TriageOutput, process_ticket, run_batch

CPU = torch.device("cpu")
LABELS_A = ["alpha", "beta", "gamma", "delta"]
LABELS_B = ["one", "two", "three", "four"]


def write_version(
    heads_dir: Path, version: str, labels: list[str], encoder: Path, publish_now: bool = True
) -> None:
    """A hand-made category head on the base encoder (no training needed to test swapping)."""
    torch.manual_seed(len(version))
    head = Head(
        labels=labels, weight=torch.randn(len(labels), 32), bias=torch.zeros(len(labels)), scale=3.0
    )
    save_artifact(
        heads_dir,
        version,
        {"category": head},
        {"base_encoder": str(encoder)},
        publish_now=publish_now,
    )


@pytest.fixture
def encoder(tiny_models: tuple[Path, Path]) -> Path:
    return tiny_models[1]


def test_classifier_starts_on_latest_and_picks_up_a_new_version(
    encoder: Path, tmp_path: Path
) -> None:
    write_version(tmp_path, "vA", LABELS_A, encoder)
    clf = TicketClassifier(str(encoder), load_taxonomy(), tmp_path, CPU)
    assert clf.version == "vA"
    assert clf.maybe_reload() is False  # nothing new

    write_version(tmp_path, "vB", LABELS_B, encoder, publish_now=False)
    assert clf.maybe_reload() is False and clf.version == "vA"  # saved, not yet published
    publish(tmp_path, "vB")
    assert clf.maybe_reload() is True and clf.version == "vB"

    out = clf.classify(["my card has not arrived", "what is the exchange rate"])
    for fields in out:
        top, alternatives = fields["category"]
        assert top.name in LABELS_B and len(alternatives) == 2  # top-3 in all
        assert top.confidence >= alternatives[0].confidence >= alternatives[1].confidence
        # Fields without a trained head keep the taxonomy's zero-shot labels.
        assert fields["priority"][0].name in load_taxonomy().priorities


def test_a_broken_version_is_skipped_and_the_old_one_kept(encoder: Path, tmp_path: Path) -> None:
    write_version(tmp_path, "vA", LABELS_A, encoder)
    clf = TicketClassifier(str(encoder), load_taxonomy(), tmp_path, CPU)
    write_version(tmp_path, "vBad", LABELS_B, encoder)
    (tmp_path / "vBad" / "heads.pt").write_bytes(b"not a checkpoint")

    assert clf.maybe_reload() is False and clf.version == "vA"
    assert clf.classify(["hello"])[0]["category"][0].name in LABELS_A
    assert clf.maybe_reload() is False  # not retried on every check


def test_a_version_whose_head_does_not_match_its_labels_is_refused(
    encoder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """3 labels but 5 weight rows would send every ticket past the label list (IndexError)."""
    write_version(tmp_path, "vA", LABELS_A, encoder)
    clf = TicketClassifier(str(encoder), load_taxonomy(), tmp_path, CPU)
    bad = Head(labels=["a", "b", "c"], weight=torch.randn(5, 32) * 10, bias=torch.zeros(5))
    save_artifact(tmp_path, "vBad", {"category": bad}, {"base_encoder": str(encoder)})

    assert clf.maybe_reload() is False and clf.version == "vA"
    assert "head 'category' has 3 labels, weight (5, 32)" in caplog.text
    for i in range(20):
        assert clf.classify([f"ticket {i} about my parcel"])[0]["category"][0].name in LABELS_A


def test_a_version_for_another_base_encoder_is_refused(encoder: Path, tmp_path: Path) -> None:
    write_version(tmp_path, "vA", LABELS_A, Path("/some/other/encoder"))
    clf = TicketClassifier(str(encoder), load_taxonomy(), tmp_path, CPU)
    assert clf.version == "zero-shot"


def test_save_is_atomic_and_latest_only_names_complete_versions(
    encoder: Path, tmp_path: Path
) -> None:
    def failing_encoder_writer(path: Path) -> None:
        path.mkdir()
        raise OSError("disk full")

    write_version(tmp_path, "vA", LABELS_A, encoder)
    head = Head(labels=["x", "y"], weight=torch.zeros(2, 32), bias=torch.zeros(2))
    with pytest.raises(OSError, match="disk full"):
        save_artifact(tmp_path, "vB", {"category": head}, {}, write_encoder=failing_encoder_writer)
    assert latest_version(tmp_path) == "vA"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST, "vA"]  # no debris


def _run(db: DbEngine, engine: TransformersEngine, ticket_id: int) -> None:
    def submit(job: TriageJob) -> TriageOutput:
        return run_batch(engine, [job])[0]

    process_ticket(ticket_id, 1, db=db, engine=engine, submit=submit, worker="test", threshold=0.5)


def test_worker_results_record_the_version_that_classified_them(
    tiny_models: tuple[Path, Path], tmp_path: Path, session: Session, db_engine: DbEngine
) -> None:
    lm, enc = tiny_models
    heads_dir = tmp_path / "heads"
    write_version(heads_dir, "vA", LABELS_A, enc)
    settings = load_settings(
        draft_model=str(lm),
        encoder_model=str(enc),
        device="cpu",
        max_new_tokens=4,
        data_dir=tmp_path,
        classifier_dir=heads_dir,
        classifier_reload_s=3600,
    )
    engine = TransformersEngine(settings)
    assert engine.reload_check_s == 3600
    first = make_ticket(session)
    _run(db_engine, engine, first.id)

    write_version(heads_dir, "vB", LABELS_B, enc)
    second = make_ticket(session, external_id="2")
    _run(db_engine, engine, second.id)  # checked less than reload_check_s ago: still vA
    engine._next_reload_check = 0.0  # the check interval has passed
    third = make_ticket(session, external_id="3")
    _run(db_engine, engine, third.id)

    session.expire_all()
    rows = session.exec(select(TriageResult).order_by(TriageResult.ticket_id)).all()
    assert [r.classifier_version for r in rows] == ["vA", "vA", "vB"]
    assert rows[0].category in LABELS_A and rows[2].category in LABELS_B
    assert len(rows[2].alternatives["category"]) == 2
