"""`ticketflow kb import`: Markdown and JSONL into passages, idempotently, on both databases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from knowledge.cli import kb_cmd
from knowledge.importer import (
    CHUNK_CHARS,
    InputError,
    chunk_text,
    delete_docs,
    import_paths,
    list_docs,
    sample_kb_dir,
)
from shared.models import KbPassage
from tests.conftest import SetEnv

LONG_SECTION = " ".join(
    f"Sentence {i} explains one more detail of how refunds reach your card." for i in range(40)
)
ARTICLE = f"""---
title: "Refunds policy"
url: https://help.example.com/refunds
---
# Refunds

Short intro about refunds.

## Timing

{LONG_SECTION}

## Exceptions
Gift cards are never refunded.

```
# not a heading: inside a code fence
```
"""


def passages(session: Session, doc_id: str | None = None) -> list[KbPassage]:
    session.expire_all()
    query = select(KbPassage).order_by(col(KbPassage.doc_id), col(KbPassage.chunk))
    if doc_id is not None:
        query = query.where(KbPassage.doc_id == doc_id)
    return list(session.exec(query).all())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, settings_env: SetEnv) -> None:
    settings_env(database_url=db_url, data_dir=tmp_path)


def test_chunk_text_packs_paragraphs_and_splits_long_ones() -> None:
    chunks = chunk_text("First para.\n\nSecond para.\n\n" + LONG_SECTION, limit=300)
    assert chunks[0].startswith("First para.\n\nSecond para.")
    assert all(len(c) <= 300 for c in chunks)
    assert "".join(chunks).replace(" ", "").replace("\n", "").count("Sentence") == 40


def test_markdown_folder_becomes_sectioned_passages(session: Session, tmp_path: Path) -> None:
    write(tmp_path / "kb" / "billing" / "refunds.md", ARTICLE)
    write(tmp_path / "kb" / "no-heading_here.md", "Just a paragraph without any heading.\n")

    summary = import_paths(session, [tmp_path / "kb"])

    assert (summary.docs, summary.created) == (2, 2)
    rows = passages(session, "billing/refunds")  # doc id: path inside the folder
    assert rows[0].text == "Refunds\nShort intro about refunds."
    timing = [r for r in rows if r.text.startswith("Timing\n")]
    assert len(timing) > 1, "the long section is split, each piece keeps its heading"
    assert all(len(r.text) <= CHUNK_CHARS for r in rows)
    assert rows[-1].text.startswith("Exceptions\nGift cards are never refunded.")
    assert "# not a heading" in rows[-1].text
    assert [r.chunk for r in rows] == list(range(len(rows)))
    assert {(r.title, r.url) for r in rows} == {
        ("Refunds policy", "https://help.example.com/refunds")
    }
    (plain,) = passages(session, "no-heading_here")
    assert (plain.title, plain.url) == ("no heading here", None)


def test_title_defaults_to_first_heading(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path / "reset.md", "Intro line.\n\n## Password reset\nUse the link.\n")
    import_paths(session, [path])
    assert {r.title for r in passages(session, "reset")} == {"Password reset"}


def test_jsonl_articles(session: Session, tmp_path: Path) -> None:
    lines = [
        {
            "id": 17,
            "title": "Delivery times",
            "text": "Standard delivery takes 3-5 days.",
            "url": "https://help.example.com/delivery",
        },
        {"id": "long", "text": LONG_SECTION},
    ]
    path = write(tmp_path / "kb.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")

    summary = import_paths(session, [path])

    (delivery,) = passages(session, "17")
    assert (delivery.title, delivery.url, delivery.text) == (
        "Delivery times",
        "https://help.example.com/delivery",
        "Standard delivery takes 3-5 days.",
    )
    long = passages(session, "long")
    assert len(long) == summary.passages - 1 > 1
    assert long[0].title == "long"  # no title: the id stands in


def test_reimport_is_idempotent_and_replaces_changed_docs(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path / "refunds.md", ARTICLE)
    import_paths(session, [path])
    first = [(r.id, r.chunk, r.text) for r in passages(session)]

    again = import_paths(session, [path])
    assert (again.unchanged, again.updated) == (1, 0)
    assert [(r.id, r.chunk, r.text) for r in passages(session)] == first  # not even re-written

    write(path, "# Refunds\n\nRefunds now take 3 days.\n")
    changed = import_paths(session, [path])
    assert changed.updated == 1
    rows = passages(session)
    assert [(r.chunk, r.text) for r in rows] == [(0, "Refunds\nRefunds now take 3 days.")]
    assert rows[0].url is None and rows[0].title == "Refunds"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bad.jsonl",
            '{"id": "a", "text": "ok"}\n{"id": "b", "text": \n',
            "bad.jsonl:2: invalid JSON",
        ),
        ("bad.jsonl", '{"id": "a"}\n', "bad.jsonl:1: missing field 'text'"),
        ("bad.jsonl", '["id", "text"]\n', "expected a JSON object"),
        ("bad.jsonl", '{"id": "a", "text": 5.5}\n', "field 'text' must be a string"),
        ("bad.md", "---\nurl: x\n# never closed\n", "front matter starts with '---'"),
        ("bad.md", "   \n", "bad.md: no text to import"),
        ("bad.txt", "hello", "unsupported file type"),
        ("bad.md", "# Nul\n\nA \x00 inside.\n", "bad.md: text must not contain NUL"),
        ("bad.jsonl", '{"id": "a", "text": "lone \\ud800"}\n', "bad.jsonl:1: text must be valid"),
        (
            "bad.md",
            "---\ntitle: T\nurl: javascript:alert(1)\n---\n# T\n\ntext\n",
            "bad.md:3: url must be an http:// or https:// link",
        ),
        (
            "bad.jsonl",
            '{"id": "a", "text": "t"}\n{"id": "b", "text": "t", "url": "data:text/html,x"}\n',
            "bad.jsonl:2: url must be an http:// or https:// link",
        ),
        (
            "bad.jsonl",
            '{"id": "a", "text": "t", "url": "help.example.com/x"}\n',
            "bad.jsonl:1: url",
        ),
    ],
)
def test_bad_file_is_a_clear_error_and_nothing_is_written(
    session: Session, tmp_path: Path, name: str, content: str, message: str
) -> None:
    good = write(tmp_path / "good.md", "# Good\n\nFine article.\n")
    bad = write(tmp_path / name, content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        import_paths(session, [good, bad])
    assert passages(session) == []


def test_duplicate_doc_ids_are_rejected(session: Session, tmp_path: Path) -> None:
    a = write(tmp_path / "a" / "faq.md", "# A\n\ntext a\n")
    b = write(tmp_path / "b" / "faq.md", "# B\n\ntext b\n")
    with pytest.raises(InputError, match="'faq' appears twice"):
        import_paths(session, [a, b])


def test_cli_imports_and_reports(cli_env: None, session: Session, tmp_path: Path) -> None:
    path = write(tmp_path / "refunds.md", ARTICLE)
    result = CliRunner().invoke(kb_cmd, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 1 document(s)" in result.output and "1 new" in result.output
    assert len(passages(session)) > 1


def test_cli_bad_file_exits_non_zero_without_traceback(
    cli_env: None, session: Session, tmp_path: Path
) -> None:
    bad = tmp_path / "latin1.md"
    bad.write_bytes("# Café\n\nDéjà vu".encode("latin-1"))
    result = CliRunner().invoke(kb_cmd, ["import", str(bad), str(tmp_path / "missing.md")])
    assert result.exit_code == 1
    assert "latin1.md: not UTF-8 text" in result.stderr
    assert "Traceback" not in result.output
    assert passages(session) == []


def test_cli_missing_path(cli_env: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(kb_cmd, ["import", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.stderr


def test_prune_deletes_documents_left_out_of_the_import(session: Session, tmp_path: Path) -> None:
    a = write(tmp_path / "kb" / "a.md", "# A\n\ntext a\n")
    b = write(tmp_path / "kb" / "b.md", "# B\n\ntext b\n")
    import_paths(session, [tmp_path / "kb"])
    b.unlink()

    kept = import_paths(session, [tmp_path / "kb"])  # without --prune nothing is deleted
    assert kept.removed == 0 and {r.doc_id for r in passages(session)} == {"a", "b"}

    pruned = import_paths(session, [tmp_path / "kb"], prune=True)
    assert (pruned.removed, pruned.unchanged) == (1, 1)
    assert {r.doc_id for r in passages(session)} == {"a"}
    assert a.exists()
    with pytest.raises(InputError, match="would empty"):
        import_paths(session, [], prune=True)


def test_delete_and_list(session: Session, tmp_path: Path) -> None:
    import_paths(session, [write(tmp_path / "refunds.md", ARTICLE)])
    import_paths(session, [write(tmp_path / "faq.md", "# FAQ\n\nshort\n")])
    assert [(d.doc_id, d.title) for d in list_docs(session)] == [
        ("faq", "FAQ"),
        ("refunds", "Refunds policy"),
    ]
    assert list_docs(session)[1].passages == len(passages(session, "refunds")) > 1

    with pytest.raises(InputError, match="no such document: nope"):
        delete_docs(session, ["refunds", "nope"])
    assert len(list_docs(session)) == 2  # nothing deleted when one id is unknown
    assert delete_docs(session, ["refunds"]) == 1
    assert [d.doc_id for d in list_docs(session)] == ["faq"]


def test_cli_delete_list_and_prune(cli_env: None, session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    write(folder / "a.md", "# A\n\ntext a\n")
    write(folder / "b.md", "# B\n\ntext b\n")
    runner = CliRunner()
    assert runner.invoke(kb_cmd, ["import", str(folder)]).exit_code == 0
    listed = runner.invoke(kb_cmd, ["list"])
    assert listed.exit_code == 0 and listed.stdout.splitlines() == ["a\t1\tA", "b\t1\tB"]

    missing = runner.invoke(kb_cmd, ["delete", "zzz"])
    assert missing.exit_code == 1 and "no such document: zzz" in missing.stderr
    deleted = runner.invoke(kb_cmd, ["delete", "a"])
    assert deleted.exit_code == 0 and "deleted 1 document(s)" in deleted.output

    (folder / "b.md").unlink()
    write(folder / "c.md", "# C\n\ntext c\n")
    pruned = runner.invoke(kb_cmd, ["import", "--prune", str(folder)])
    # a (deleted above, still on disk) and c come back as new; b, gone from disk, is removed
    assert pruned.exit_code == 0 and "2 new" in pruned.output and "1 removed" in pruned.output
    assert {r.doc_id for r in passages(session)} == {"a", "c"}


def test_sample_kb_imports(session: Session) -> None:
    summary = import_paths(session, [sample_kb_dir()])
    assert summary.docs >= 5
    docs = {r.doc_id: r for r in passages(session)}
    assert {
        "refunds-policy",
        "password-reset",
        "delivery-times",
        "card-charged-twice",
        "cancel-subscription",
    } <= set(docs)
    assert all(r.url and r.url.startswith("https://") for r in docs.values())


def test_kb_command_does_not_import_torch() -> None:
    code = (
        "import sys, knowledge.cli, knowledge.importer; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
