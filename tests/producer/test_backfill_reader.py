"""Reading files for backfill: mapping, validation, line numbers. No database needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from producer.backfill.mapping import parse_mapping
from producer.backfill.reader import ImportRow, InvalidRow, RowReader, content_id
from shared.errors import InputError
from tests.helpers import write

FIXTURES = Path(__file__).parents[1] / "fixtures"


def read_all(path: Path, **kwargs: object) -> list[ImportRow | InvalidRow]:
    with RowReader(path, **kwargs) as reader:  # type: ignore[arg-type]
        return list(reader)


def test_parse_mapping_accepts_fields_and_aliases() -> None:
    assert parse_mapping("body=text, id=ticket_id,email=from") == {
        "body": "text",
        "external_id": "ticket_id",
        "customer_email": "from",
    }
    assert parse_mapping(None) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bodyy=text", "unknown ticket field 'bodyy'"),
        ("body", "is not FIELD=COLUMN"),
        ("body=a,text=b", "mapped twice"),
    ],
)
def test_parse_mapping_rejects_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_mapping(spec)


def test_banking77_sample_maps_by_column_names() -> None:
    rows = read_all(FIXTURES / "banking77_sample.csv")
    assert len(rows) == 200
    assert all(isinstance(r, ImportRow) for r in rows)
    first = rows[0]
    assert isinstance(first, ImportRow)
    assert first.line == 2
    assert first.ticket.body == "I am still waiting on my card?"
    assert first.ticket.source == "backfill"
    assert first.category == "card_arrival"
    assert first.ticket.external_id is not None and first.ticket.external_id.startswith("sha256:")
    assert len({r.ticket.external_id for r in rows if isinstance(r, ImportRow)}) == 200


def test_explicit_mapping_fills_every_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "export.csv",
        "ticket_id,msg,title,from,who,created,label,extra\n"
        "T-1,My card is blocked,Card,ana@example.com,Ana,2023-04-05T10:00:00,card,x\n",
    )
    spec = parse_mapping(
        "id=ticket_id,body=msg,subject=title,email=from,name=who,date=created,category=label"
    )
    [row] = read_all(path, mapping=spec, source="zendesk")
    assert isinstance(row, ImportRow)
    t = row.ticket
    assert (t.external_id, t.body, t.subject, t.source) == (
        "T-1",
        "My card is blocked",
        "Card",
        "zendesk",
    )
    assert (t.customer_email, t.customer_name) == ("ana@example.com", "Ana")
    assert t.received_at == datetime(2023, 4, 5, 10, tzinfo=UTC)
    assert row.category == "card"


def test_invalid_rows_are_reported_with_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.csv",
        "id,body,date\n"  # line 1
        "1,fine,2024-01-01\n"  # 2
        "2,   ,2024-01-01\n"  # 3: empty body
        "3,bad date,yesterday\n"  # 4
        "4,too,many,columns\n"  # 5
        '5,"a quoted body\nover two lines",\n'  # 6-7: valid, starts on line 6
        "6,toolong" + "x" * 200 + ",\n"  # 8: over max_body_chars
        "7,bad email,\n"  # 9: valid (email not mapped)
        "8\n",  # 10: too few columns
    )
    rows = read_all(path, max_body_chars=100)
    got = {r.line: r for r in rows}
    assert isinstance(got[2], ImportRow)
    assert isinstance(got[6], ImportRow) and "two lines" in got[6].ticket.body
    assert isinstance(got[9], ImportRow)
    reasons = {r.line: r.reason for r in rows if isinstance(r, InvalidRow)}
    assert set(reasons) == {3, 4, 5, 8, 10}
    assert "body is empty" in reasons[3]
    assert "not an ISO 8601 date" in reasons[4]
    assert "has 4 columns, the header has 3" in reasons[5]
    assert "over max_body_chars (100)" in reasons[8]
    assert "has 1 columns" in reasons[10]


def test_bad_email_is_an_invalid_row_not_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "body,email\nhello,not-an-email\n")
    [row] = read_all(path)
    assert isinstance(row, InvalidRow)
    assert row.line == 2 and "customer_email" in row.reason


def test_jsonl_rows_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 17, "text": "Where is my card?", "category": "card_arrival"}),
        "{not json",
        "",
        json.dumps(["a", "list"]),
        json.dumps({"id": 18, "text": {"nested": True}}),
        json.dumps({"id": 19, "text": "Refund please", "subject": None}),
    ]
    path = write(tmp_path, "history.jsonl", "\n".join(lines) + "\n")
    rows = read_all(path)
    assert [r.line for r in rows] == [1, 2, 4, 5, 6]
    first, bad_json, not_object, nested, last = rows
    assert isinstance(first, ImportRow) and first.ticket.external_id == "17"
    assert isinstance(bad_json, InvalidRow) and "not valid JSON" in bad_json.reason
    assert isinstance(not_object, InvalidRow) and "JSON object" in not_object.reason
    assert isinstance(nested, InvalidRow) and "must be text" in nested.reason
    assert isinstance(last, ImportRow) and last.ticket.subject == ""


def test_invalid_utf8_marks_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.csv", "body\nok\ncaf\xe9\n".encode("latin-1"))
    rows = read_all(path)
    assert isinstance(rows[0], ImportRow)
    assert rows[1] == InvalidRow(3, "not valid UTF-8")


def test_content_id_is_stable_and_ignores_column_order() -> None:
    a = content_id({"text": "hi", "category": "x"})
    assert a == content_id({"category": "x", "text": "hi"})
    assert a != content_id({"text": "hi", "category": "y"})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        RowReader(tmp_path / "nope.csv")


def test_unknown_mapped_column_lists_the_columns() -> None:
    with pytest.raises(InputError, match=r"unknown column 'message' \(for body\).*'text'"):
        RowReader(FIXTURES / "banking77_sample.csv", mapping={"body": "message"})


def test_file_without_a_body_column_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "foo,bar\n1,2\n")
    with pytest.raises(InputError, match="no column for the ticket body"):
        RowReader(path)


@pytest.mark.parametrize(
    ("name", "text", "kwargs", "message"),
    [
        ("x.txt", "body\nhi\n", {}, "cannot tell the format"),
        ("x.csv", "", {}, "empty file"),
        ("x.jsonl", "nope\n", {}, "no JSON object"),
        ("x.csv", "body\nhi\n", {"source": "bad source!"}, "source 'bad source!'"),
    ],
)
def test_unusable_input_raises_before_reading(
    tmp_path: Path, name: str, text: str, kwargs: dict[str, object], message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InputError, match=message):
        RowReader(path, **kwargs)  # type: ignore[arg-type]


def test_bytes_read_reaches_file_size() -> None:
    path = FIXTURES / "banking77_sample.csv"
    with RowReader(path) as reader:
        for _ in reader:
            pass
        assert reader.bytes_read == reader.size == path.stat().st_size


def test_an_unclosed_quote_is_reported_not_swallowed(tmp_path: Path) -> None:
    """Lenient CSV reading would turn lines 3-5 into one body and lose tickets 2 and 3."""
    path = write(
        tmp_path,
        "q.csv",
        "id,body\n"  # 1
        '0,he said "hi" and left\n'  # 2: quotes inside an unquoted cell are fine
        '1,"never closed\n'  # 3
        "2,second ticket\n"  # 4
        "3,third ticket\n",  # 5
    )
    rows = read_all(path)
    assert [type(r) for r in rows] == [ImportRow, InvalidRow]
    ok, bad = rows
    assert isinstance(ok, ImportRow) and ok.ticket.body == 'he said "hi" and left'
    assert isinstance(bad, InvalidRow) and bad.line == 3
    assert "never closed, so lines 3-5 (the rest of the file) could not be read" in bad.reason


def test_text_after_a_closing_quote_is_one_invalid_row(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", 'id,body\n1,"quoted"tail\n2,fine\n')
    rows = read_all(path)
    assert isinstance(rows[0], InvalidRow) and rows[0].line == 2
    assert "not valid CSV" in rows[0].reason
    assert isinstance(rows[1], ImportRow) and rows[1].ticket.body == "fine"


def test_an_unclosed_quote_in_the_header_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", 'id,"body\n1,hello\n')
    with pytest.raises(InputError, match=r"line 1 \(the header\): a quoted cell .* never closed"):
        read_all(path)
