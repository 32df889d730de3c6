"""The bundled MiniLM, fine-tuned for a handful of steps: the real training path end to end."""

from pathlib import Path

import pytest
import torch

from shared.config import BUNDLED_ENCODER
from shared.taxonomy import load_taxonomy
from training.data import load_examples, stratified_split
from training.evaluation import evaluate_examples
from training.finetune import FinetuneConfig
from training.trainer import train_version
from worker.engine.classifier.classifier import TicketClassifier

pytestmark = pytest.mark.slow
FIXTURE = Path(__file__).parents[1] / "fixtures" / "banking77_mini.csv"


def test_minilm_learns_the_fixture_intents(tmp_path: Path) -> None:
    train, held_out = stratified_split(load_examples(FIXTURE), 0.3, seed=0)
    cfg = FinetuneConfig(epochs=1, batch_size=16, max_length=32)  # 5 optimiser steps
    report = train_version(train, BUNDLED_ENCODER, tmp_path, torch.device("cpu"), cfg)

    clf = TicketClassifier(BUNDLED_ENCODER, load_taxonomy(), tmp_path, torch.device("cpu"))
    assert clf.version == report.version
    scores = evaluate_examples(clf, held_out)["category"]
    # Centroid-initialised heads on MiniLM separate these ten intents well even after 5 steps.
    assert scores.n == 30 and scores.accuracy >= 0.8
    assert 0.1 < scores.mean_confidence < 1.0
