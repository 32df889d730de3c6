"""Training mechanics on a tiny random BERT: artifacts, versions, calibration, carry-over."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import RobertaConfig

from shared.errors import ConfigError
from shared.taxonomy import load_taxonomy
from training.data import load_examples
from training.evaluation import evaluate_examples
from training.finetune import FinetuneConfig, _sharpness_aware_grad
from training.trainer import train_version
from worker.engine.classifier.artifacts import latest_version, list_versions
from worker.engine.classifier.classifier import TicketClassifier
from worker.engine.classifier.encoder import SentenceEncoder, max_positions

CPU = torch.device("cpu")
FIXTURE = Path(__file__).parents[1] / "fixtures" / "banking77_mini.csv"
FAST = FinetuneConfig(epochs=8, batch_size=16, lr_encoder=1e-3, lr_head=1e-2, max_length=32)


@pytest.fixture
def encoder(tiny_models: tuple[Path, Path]) -> str:
    return str(tiny_models[1])


def test_training_publishes_a_version_that_beats_chance(encoder: str, tmp_path: Path) -> None:
    examples = load_examples(FIXTURE)
    clf = TicketClassifier(encoder, load_taxonomy(), tmp_path, CPU)
    before = evaluate_examples(clf, examples)["category"]
    assert before.accuracy == 0.0  # zero-shot knows only the taxonomy's categories

    report = train_version(examples, encoder, tmp_path, CPU, FAST, calib_fraction=0.2)

    assert latest_version(tmp_path) == report.version and report.published
    files = {p.name for p in report.path.iterdir()}
    assert {"heads.pt", "meta.json", "encoder"} <= files
    assert (report.path / "encoder" / "config.json").exists()
    meta = json.loads((report.path / "meta.json").read_text())
    assert meta["base_encoder"] == encoder and len(meta["labels"]["category"]) == 10
    s = report.fields["category"]
    # Little data: the temperature is fitted with 20 held out, then the model is refitted on all.
    assert (s.labels, s.train_examples, s.calib_examples) == (10, 100, 20)
    assert meta["refitted_on_all"] is True
    assert s.scale != 1.0 and s.calib_nll_after <= s.calib_nll_before  # calibration fitted
    assert s.calib_accuracy is not None and s.calib_accuracy > 0.2  # held out; chance is 0.1

    assert clf.maybe_reload() and clf.version == report.version
    scores = evaluate_examples(clf, examples)["category"]
    assert scores.accuracy > 0.3  # chance is 0.1 with ten balanced intents
    top, alternatives = clf.classify(["I lost my card"])[0]["category"]
    assert len(alternatives) == 2 and top.confidence >= alternatives[0].confidence


def test_each_run_is_a_new_version_and_old_ones_stay(encoder: str, tmp_path: Path) -> None:
    examples = load_examples(FIXTURE)[:40]
    cfg = FinetuneConfig(epochs=1, batch_size=16, max_length=16)
    first = train_version(examples, encoder, tmp_path, CPU, cfg, refit_below=0)
    second = train_version(examples, encoder, tmp_path, CPU, cfg, publish=False, refit_below=0)
    assert first.fields["category"].train_examples == 36  # 4 of 40 held out, no refit
    assert first.version != second.version
    assert list_versions(tmp_path) == sorted([first.version, second.version])
    assert latest_version(tmp_path) == first.version  # the unpublished one waits


def test_frozen_heads_are_carried_into_a_fine_tuned_version(encoder: str, tmp_path: Path) -> None:
    examples = load_examples(FIXTURE)
    prio = [
        type(e)(e.text, {"priority": "urgent" if i % 2 else "low"}) for i, e in enumerate(examples)
    ]
    frozen = FinetuneConfig(epochs=2, freeze_encoder=True)
    first = train_version(prio, encoder, tmp_path, CPU, frozen)
    assert not (first.path / "encoder").exists()  # heads only: the base encoder is used

    second = train_version(
        examples, encoder, tmp_path, CPU, FinetuneConfig(epochs=1, batch_size=32, max_length=16)
    )
    assert second.carried_over == ["priority"]
    clf = TicketClassifier(encoder, load_taxonomy(), tmp_path, CPU)
    assert clf.version == second.version
    out = clf.classify(["my card is lost"])[0]
    assert out["priority"][0].name in {"urgent", "low"}  # kept, not back to zero-shot
    assert out["category"][0].name in {e.labels["category"] for e in examples}
    assert out["sentiment"][0].name in load_taxonomy().sentiments  # never trained: zero-shot


def test_fine_tuned_field_survives_a_run_that_trains_another(encoder: str, tmp_path: Path) -> None:
    examples = load_examples(FIXTURE)
    # Priority follows the intent, so the tiny encoder can learn it.
    urgent = set(sorted({e.labels["category"] for e in examples})[::2])
    prio = [
        type(e)(e.text, {"priority": "urgent" if e.labels["category"] in urgent else "low"})
        for e in examples
    ]
    first = train_version(prio, encoder, tmp_path, CPU, FAST, calib_fraction=0.2)
    assert (first.path / "encoder").exists()  # priority now lives on a fine-tuned encoder
    old = TicketClassifier(encoder, load_taxonomy(), tmp_path, CPU)
    texts = [e.text for e in examples]
    before = [r["priority"][0].name for r in old.classify(texts)]

    cats = [type(e)(e.text, {"category": e.labels["category"]}) for e in examples]
    second = train_version(cats, encoder, tmp_path, CPU, FAST, calib_fraction=0.2)

    assert second.carried_over == [] and set(second.relabelled) == {"priority"}
    assert 0 < second.relabelled["priority"] <= len(examples)
    meta = json.loads((second.path / "meta.json").read_text())
    assert meta["relabelled"]["version"] == first.version
    new = TicketClassifier(encoder, load_taxonomy(), tmp_path, CPU)
    assert new.version == second.version and new.heads["priority"].kind == "linear"
    after = [r["priority"][0].name for r in new.classify(texts)]
    agree = sum(a == b for a, b in zip(before, after, strict=True)) / len(texts)
    assert agree > 0.7, agree  # the new encoder learnt what the old version predicted


def test_nothing_is_relabelled_without_a_fine_tuned_version(encoder: str, tmp_path: Path) -> None:
    examples = load_examples(FIXTURE)
    report = train_version(examples, encoder, tmp_path, CPU, FAST, calib_fraction=0.2)
    assert report.relabelled == {}
    meta = json.loads((report.path / "meta.json").read_text())
    assert meta["relabelled"] is None


def test_large_datasets_hold_out_at_most_calib_max(
    encoder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.trainer as trainer

    monkeypatch.setattr(trainer, "CALIB_MAX", 10)
    examples = load_examples(FIXTURE)  # 120 rows: 20% would be 24
    cfg = FinetuneConfig(epochs=1, batch_size=32, max_length=16)
    report = train_version(examples, encoder, tmp_path, CPU, cfg, calib_fraction=0.2, refit_below=0)
    s = report.fields["category"]
    assert s.calib_examples == 10 and s.train_examples == len(examples) - 10


def test_the_encoder_never_reads_past_its_position_table(encoder: str) -> None:
    # A version saved with too long a max length (before training refused one) still works.
    enc = SentenceEncoder(encoder, CPU, max_length=1024)
    assert (enc.max_positions, enc.max_length) == (512, 512)
    assert enc.embed(["my card never arrived " * 400]).shape == (1, 32)
    assert max_positions(RobertaConfig(max_position_embeddings=514, pad_token_id=1)) == 512


def test_training_refuses_a_max_length_the_encoder_cannot_take(
    encoder: str, tmp_path: Path
) -> None:
    cfg = FinetuneConfig(epochs=1, max_length=1024)
    with pytest.raises(ConfigError, match=r"max length 1024 .* \(512 tokens\)"):
        train_version(load_examples(FIXTURE), encoder, tmp_path, CPU, cfg)
    assert latest_version(tmp_path) is None


def test_sharpness_aware_step_takes_the_gradient_at_the_perturbed_weights() -> None:
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))

    def loss() -> torch.Tensor:
        return (w**4).sum() / 4  # gradient w**3

    loss().backward()
    g = w.detach() ** 3
    _sharpness_aware_grad([w], 0.1, loss)
    assert torch.equal(w.detach(), torch.tensor([1.0, 2.0]))  # weights put back
    assert w.grad is not None
    assert torch.allclose(w.grad, (w.detach() + 0.1 * g / g.norm()) ** 3)


def test_training_with_sharpness_aware_steps_beats_chance(encoder: str, tmp_path: Path) -> None:
    examples = load_examples(FIXTURE)
    cfg = replace(FAST, sam_rho=0.05)
    train_version(examples, encoder, tmp_path, CPU, cfg, calib_fraction=0.2)
    clf = TicketClassifier(encoder, load_taxonomy(), tmp_path, CPU)
    assert evaluate_examples(clf, examples)["category"].accuracy > 0.3  # chance is 0.1
