"""Reading labelled files and splitting them for training."""

import json
from collections import Counter
from pathlib import Path

import pytest

from shared.errors import ConfigError
from worker.training.data import (
    load_examples,
    parse_field_specs,
    sample_per_label,
    stratified_split,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "banking77_mini.csv"


def test_csv_fixture_loads_with_the_default_columns() -> None:
    examples = load_examples(FIXTURE)
    assert len(examples) == 100
    assert Counter(e.labels["category"] for e in examples) == Counter(
        {label: 10 for label in {e.labels["category"] for e in examples}}
    )
    assert len({e.labels["category"] for e in examples}) == 10


def test_jsonl_with_mapped_columns_and_partial_labels(tmp_path: Path) -> None:
    rows = [
        {"subject": "Refund", "body": "money back please", "intent": "refund", "prio": "high"},
        {"subject": "", "body": "app crashes", "intent": "bug", "prio": None},
        {"subject": "x", "body": "no labels at all", "intent": "", "prio": ""},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    fields = parse_field_specs(["category=intent", "priority=prio"])
    examples = load_examples(path, ["subject", "body"], fields)
    assert [(e.text, e.labels) for e in examples] == [
        ("Refund\nmoney back please", {"category": "refund", "priority": "high"}),
        ("app crashes", {"category": "bug"}),  # text as classification_text builds it
    ]


def test_bad_columns_and_fields_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--text-column"):
        load_examples(FIXTURE, ["body"])
    with pytest.raises(ConfigError, match="--field"):
        load_examples(FIXTURE, fields={"priority": "priority"})
    with pytest.raises(ConfigError, match="must be one of"):
        parse_field_specs(["language"])


def test_stratified_split_holds_out_each_label_but_never_all_of_it() -> None:
    examples = load_examples(FIXTURE)
    rest, held = stratified_split(examples, 0.2, seed=3)
    assert Counter(e.labels["category"] for e in held) == Counter(
        {e.labels["category"]: 2 for e in examples}
    )
    assert len(rest) == 80 and not set(map(id, rest)) & set(map(id, held))
    rest, held = stratified_split(examples[:1] + examples[10:12], 0.5)
    assert {e.labels["category"] for e in rest} == {
        examples[0].labels["category"],
        examples[10].labels["category"],
    }
    few = sample_per_label(examples, 3, seed=1)
    assert len(few) == 30 and sample_per_label(examples, 3, seed=1) == few
