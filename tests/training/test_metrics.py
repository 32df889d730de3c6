"""Evaluation metrics and temperature scaling, against numbers worked out by hand."""

import pytest
import torch

from training.calibration import fit_inverse_temperature, nll
from training.metrics import Confusion, evaluate, expected_calibration_error
from worker.engine.classifier.heads import Head

TRUE = ["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"]
PRED = ["a", "a", "b", "b", "b", "b", "c", "c", "c", "a"]


def test_known_confusion() -> None:
    r = evaluate(TRUE, PRED, [0.9] * 10)
    assert r.n == 10 and r.accuracy == pytest.approx(0.6)
    by = {c.label: c for c in r.per_class}
    # a: 2 of 4 found, 2 of 3 "a" predictions right; b: 2 of 3 found, 2 of 4 right.
    assert (by["a"].precision, by["a"].recall, by["a"].f1) == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    assert (by["b"].precision, by["b"].recall, by["b"].f1) == pytest.approx((1 / 2, 2 / 3, 4 / 7))
    assert (by["c"].precision, by["c"].recall, by["c"].f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert [by[x].support for x in "abc"] == [4, 3, 3]
    assert r.macro_f1 == pytest.approx(38 / 63)
    assert r.confused == [Confusion("a", "b", 2), Confusion("b", "c", 1), Confusion("c", "a", 1)]
    assert r.ece == pytest.approx(0.3)  # one bin: 90% confident, 60% right


def test_a_label_only_ever_predicted_counts_in_the_macro_average() -> None:
    r = evaluate(["x", "x"], ["x", "y"], [1.0, 1.0])
    by = {c.label: c for c in r.per_class}
    assert (by["y"].precision, by["y"].recall, by["y"].f1, by["y"].support) == (0, 0, 0, 0)
    assert r.macro_f1 == pytest.approx((2 / 3 + 0) / 2)


def test_ece_uses_fifteen_equal_width_bins() -> None:
    # 0.95 -> last bin (half right), 0.55 -> bin 9 (all right): |0.5-0.95|/2 + |1-0.55|/2.
    assert expected_calibration_error([0.95, 0.95, 0.55, 0.55], [1, 0, 1, 1]) == pytest.approx(0.45)
    # 0.10 and 0.12 share the bin (1/15, 2/15]: |0.5 - 0.11| (0.51 if binned apart).
    assert expected_calibration_error([0.10, 0.12], [1, 0]) == pytest.approx(0.39)
    assert expected_calibration_error([0.10, 0.12], [1, 0], bins=50) == pytest.approx(0.51)
    assert expected_calibration_error([0.8] * 5, [1, 1, 1, 1, 0]) == pytest.approx(0.0)
    assert expected_calibration_error([], []) == 0.0


def test_temperature_scaling_undoes_overconfidence() -> None:
    torch.manual_seed(0)
    true_logits = torch.randn(4000, 5) * 2
    targets = torch.distributions.Categorical(logits=true_logits).sample()
    overconfident = 3 * true_logits  # the right ranking, three times too sharp
    scale = fit_inverse_temperature(overconfident, targets)
    assert scale == pytest.approx(1 / 3, rel=0.1)
    assert nll(overconfident, targets, scale) < nll(overconfident, targets) - 0.3
    assert fit_inverse_temperature(torch.empty(0, 5), torch.empty(0)) == 1.0


def test_rescaling_a_head_divides_every_logit_by_the_temperature() -> None:
    torch.manual_seed(1)
    emb = torch.randn(6, 8)
    head = Head(["a", "b", "c"], torch.randn(3, 8), torch.randn(3), scale=2.0)
    before = head.logits(emb)
    head.rescale(0.25)
    assert torch.allclose(head.logits(emb), 0.25 * before, atol=1e-6)
    assert torch.equal(head.probs(emb).argmax(-1), before.argmax(-1))
