"""Reading labelled files and splitting them for training."""

import json
from collections import Counter
from pathlib import Path

import pytest

from shared.errors import InputError
from tests.helpers import write
from training.data import (
    NO_LABEL,
    NO_TEXT,
    Example,
    describe_skipped,
    load_examples,
    load_labelled,
    parse_field_specs,
    same_text_key,
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
    with pytest.raises(InputError, match="--text-column"):
        load_examples(FIXTURE, ["body"])
    with pytest.raises(InputError, match="--field"):
        load_examples(FIXTURE, fields={"priority": "priority"})
    with pytest.raises(InputError, match="must be one of"):
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


def test_a_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", "\ufefftext,category\nhello,a\nbye,b\n")
    assert [e.labels for e in load_examples(path)] == [{"category": "a"}, {"category": "b"}]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.csv", "text,category\ncaf\xe9,a\n".encode("latin-1"), "latin1.csv:2: not UTF-8"),
        ("list.jsonl", '{"text": "a", "category": "x"}\n[1, 2]\n', "list.jsonl:2: not a JSON obj"),
        ("ragged.csv", "text,category\nhello,a,extra\nbye,b\n", "ragged.csv:2: 3 cells but"),
        (
            "open.csv",
            'text,category\nfine,a\n"never closed,b\nmore,c\n',
            r"open.csv:3: a quoted cell opened here is never closed, so lines 3-4",
        ),
        ("tail.csv", 'text,category\n"quoted"tail,a\n', "tail.csv:2: not valid CSV"),
        ("list.jsonl", '{"text": "a", "category": ["x"]}\n', "list.jsonl:1: column 'category'"),
    ],
)
def test_unreadable_files_are_one_clear_error(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        load_examples(write(tmp_path, name, content))


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a file"):
        load_examples(tmp_path)


def test_cells_longer_than_the_csv_modules_default_cap_load(tmp_path: Path) -> None:
    body = "my card " * 40_000  # 320 KB, over csv's default 128 KiB field limit
    path = write(tmp_path, "long.csv", f'text,category\n"{body}",a\nshort,b\n')
    assert [len(e.text) for e in load_examples(path)] == [len(body.strip()), 5]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("card\x00,normal", r"t.csv:3: category label 'card\\x00' must not contain NUL"),
        ("x" * 101 + ",normal", "t.csv:3: category label .* has 101 characters; .* at most 100"),
        ("card," + "p" * 33, "t.csv:3: priority label .* has 33 characters; .* at most 32"),
    ],
)
def test_labels_the_database_cannot_store_are_refused(
    tmp_path: Path, labels: str, message: str
) -> None:
    path = write(tmp_path, "t.csv", f"text,category,priority\nfine,card,low\nbad,{labels}\n")
    with pytest.raises(InputError, match=message):
        load_examples(path)


def test_lone_surrogates_in_json_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"text": "a", "category": "card\\ud800"}\n')
    with pytest.raises(InputError, match=r"t.jsonl:1: category label .* lone surrogate"):
        load_examples(path)
    path = write(tmp_path, "t.jsonl", '{"text": "a\\udc00", "category": "card"}\n')
    with pytest.raises(InputError, match=r"t.jsonl:1: text must be valid Unicode"):
        load_examples(path)


def test_skipped_rows_are_counted_with_their_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "text,category\nhello,a\n,b\n  ,c\nno label,\nbye,b\n")
    loaded = load_labelled(path)
    assert [e.text for e in loaded.examples] == ["hello", "bye"]
    assert loaded.skipped == {NO_TEXT: 2, NO_LABEL: 1} and loaded.skipped_rows == 3
    assert describe_skipped(loaded.skipped) == "3 row(s) skipped: 2 without text, 1 without a label"


def test_identical_texts_never_sit_on_both_sides_of_the_split() -> None:
    examples = load_examples(FIXTURE)
    # Each text three times, two of them spelt differently in case and spacing.
    tripled = [
        Example(t, e.labels)
        for e in examples
        for t in (e.text, e.text.upper(), "  " + e.text.replace(" ", "   "))
    ]
    for seed in range(3):
        rest, held = stratified_split(tripled, 0.2, seed=seed)
        assert held and len(rest) + len(held) == len(tripled)
        assert not {same_text_key(e.text) for e in rest} & {same_text_key(e.text) for e in held}
        # Still about a fifth of each label: two of its ten texts, three copies each.
        assert Counter(e.labels["category"] for e in held) == Counter(
            {e.labels["category"]: 6 for e in examples}
        )
