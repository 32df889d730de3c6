"""The pure parts of bench/pipeline_efficiency.py: percentiles, efficiency, batches, arrivals."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from pipeline_efficiency import arrival_times, batches, efficiency, percentile


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_efficiency_is_pipeline_over_bare() -> None:
    assert efficiency(0.9, 1.0) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        efficiency(1.0, 0.0)


def test_batches_group_tickets_that_share_a_classify_batch() -> None:
    # Drafts are timed per ticket (each leaves when its draft is done): only classify is shared.
    rows = [
        {"created_at": 3.0, "batch_size": 1, "classify_ms": 10, "draft_ms": 900},
        {"created_at": 1.0, "batch_size": 2, "classify_ms": 20, "draft_ms": 1500},
        {"created_at": 1.1, "batch_size": 2, "classify_ms": 20, "draft_ms": 700},
        {"created_at": 2.0, "batch_size": 2, "classify_ms": 21, "draft_ms": 1400},
        {"created_at": 2.1, "batch_size": 2, "classify_ms": 21, "draft_ms": 2400},
    ]
    assert batches(rows) == [2, 2, 1]


def test_arrivals_are_evenly_spaced() -> None:
    assert arrival_times(3, 2.0) == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError):
        arrival_times(3, 0)
