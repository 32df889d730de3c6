"""`ticketflow templates import`: reply templates (Markdown, JSONL) as reply examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from knowledge.templates import import_templates
from knowledge.templates_cli import templates_cmd
from shared.errors import InputError
from shared.models import ReplyExample
from tests.conftest import SetEnv

SAMPLES = Path(__file__).resolve().parents[2] / "ticketflow" / "samples" / "templates"


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, settings_env: SetEnv) -> None:
    settings_env(database_url=db_url, data_dir=tmp_path)


def templates(session: Session) -> dict[str, ReplyExample]:
    rows = session.exec(select(ReplyExample).where(col(ReplyExample.template_id).is_not(None)))
    return {r.template_id or "": r for r in rows}


def test_sample_set_imports_both_formats_idempotently(session: Session, tmp_path: Path) -> None:
    s = import_templates(session, [SAMPLES])
    session.commit()
    rows = templates(session)
    assert s.created == len(rows) >= 10 and s.updated == 0
    assert {r.language for r in rows.values()} >= {"en", "es", "fr", "de", "it", "zh"}
    md = rows["charged-twice-en"]  # from the Markdown file: body is the reply
    assert md.category == "billing" and md.reply.startswith("Dear {name},")
    assert "charged twice" in md.ticket_text and md.ticket_id is None
    again = import_templates(session, [SAMPLES])
    assert (again.created, again.updated, again.unchanged) == (0, 0, s.templates)
    changed = tmp_path / "charged-twice-en.md"
    changed.write_text(
        "---\nid: charged-twice-en\ncategory: billing\nlanguage: en\nticket: charged twice\n"
        "---\nDear {name},\n\nNew wording.\n"
    )
    s3 = import_templates(session, [changed])
    session.commit()
    assert s3.updated == 1 and templates(session)["charged-twice-en"].reply.endswith("wording.")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "x", "language": "en", "ticket": "t"}\n', "missing or empty field 'reply'"),
        ('{"id": "x", "language": "english", "ticket": "t", "reply": "r"}\n', "not a code"),
        ("not json\n", "invalid JSON"),
    ],
)
def test_bad_templates_name_the_line_and_write_nothing(
    session: Session, tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        import_templates(session, [SAMPLES, bad])
    assert "bad.jsonl:1" in str(err.value)
    assert templates(session) == {}


def test_cli_imports_lists_and_reports_errors(
    cli_env: None, session: Session, tmp_path: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(templates_cmd, ["import", str(SAMPLES)])
    assert result.exit_code == 0, result.output
    assert "new" in result.output and "imported" in result.output
    listed = runner.invoke(templates_cmd, ["list"])
    assert "wrong-invoice-de\tde\tbilling" in listed.output
    missing = runner.invoke(templates_cmd, ["import", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "no such file" in missing.stderr
