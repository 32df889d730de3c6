"""Local sources (mbox, Maildir, .eml) and the `ingest-email` command's edges."""

from __future__ import annotations

import mailbox
import socket
from pathlib import Path

import pytest
import typer
from sqlmodel import select
from typer.testing import CliRunner

from producer.email.cli import ingest_email
from producer.email.sources import iter_eml, iter_maildir, iter_mbox
from shared.errors import SourceError
from shared.models import Ticket
from tests.helpers import RecordingPublisher
from tests.producer.test_email_parse import CORPUS

CORPUS_COUNTS = "ingested=14 threaded=3 duplicate=1 skipped=3 quarantined=1"


def corpus_bytes() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]


def write_mbox(path: Path) -> Path:
    box = mailbox.mbox(path)
    for raw in corpus_bytes():
        box.add(raw)
    box.close()
    return path


def write_maildir(path: Path) -> Path:
    box = mailbox.Maildir(path)
    for raw in corpus_bytes():
        box.add(raw)
    box.close()
    return path


def test_mbox_yields_every_message_in_order(tmp_path):
    mails = list(iter_mbox(write_mbox(tmp_path / "support.mbox")))
    assert len(mails) == 22
    assert mails[0].origin == f"mbox:{tmp_path / 'support.mbox'}#0"
    assert b"<plain-0001@example.com>" in mails[0].raw


def test_mbox_content_before_the_first_from_line_is_not_skipped(tmp_path):
    """mailbox.mbox ignores it: a lone .eml passed as --mbox used to report ingested=0."""
    one = (CORPUS / "01_plain_signature.eml").read_bytes()
    path = tmp_path / "exported.mbox"
    path.write_bytes(one)
    (mail,) = list(iter_mbox(path))
    assert mail.raw == one and mail.origin.endswith("#before-first-From-line")
    mbox = write_mbox(tmp_path / "support.mbox")
    path.write_bytes(one + b"\n" + mbox.read_bytes())
    mails = list(iter_mbox(path))
    assert len(mails) == 23 and mails[0].raw.strip() == one.strip()


def test_maildir_yields_every_message(tmp_path):
    mails = list(iter_maildir(write_maildir(tmp_path / "Maildir")))
    assert len(mails) == 22 and all(m.origin.startswith("maildir:") for m in mails)


def test_eml_accepts_files_and_folders(tmp_path):
    one = CORPUS / "01_plain_signature.eml"
    mails = list(iter_eml([one, CORPUS]))
    assert len(mails) == 23 and mails[0].origin == f"eml:{one}"
    assert mails[0].raw == one.read_bytes()


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda p: iter_mbox(p / "missing.mbox"), "no mbox file"),
        (lambda p: iter_maildir(p), "no Maildir"),
        (lambda p: iter_eml([p / "missing.eml"]), "no .eml file or folder"),
        (lambda p: iter_eml([p]), "no .eml files in the folder"),
    ],
)
def test_missing_paths_fail_before_reading(tmp_path, factory, message):
    with pytest.raises(SourceError, match=message):
        factory(tmp_path)


# --- the command -----------------------------------------------------------------------------


@pytest.fixture
def cli(settings, monkeypatch):
    """The command in a one-command app, wired to the test database and a recording queue."""
    recorder = RecordingPublisher()
    monkeypatch.setattr("producer.email.cli.settings_or_exit", lambda: settings)
    monkeypatch.setattr("producer.email.cli.make_publisher", lambda _settings: recorder)
    app = typer.Typer()
    app.command("ingest-email")(ingest_email)
    app.command("noop")(lambda: None)  # keeps Typer from flattening the single command
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["ingest-email", *args])

    invoke.recorder = recorder  # type: ignore[attr-defined]
    return invoke


def test_cli_eml_folder_prints_counts(cli, session):
    result = cli("--eml", str(CORPUS))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == CORPUS_COUNTS
    assert "skipped: eml:" in result.stdout and "quarantined: eml:" in result.stdout
    assert len(session.exec(select(Ticket)).all()) == 14
    assert len(cli.recorder.sent) == 17  # 14 new tickets + 3 re-triaged replies


def test_cli_mbox_and_maildir_rerun_is_all_duplicates(cli, tmp_path):
    mbox = write_mbox(tmp_path / "support.mbox")
    assert cli("--mbox", str(mbox)).stdout.strip().endswith(CORPUS_COUNTS)
    result = cli("--maildir", str(write_maildir(tmp_path / "Maildir")))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(
        "ingested=0 threaded=0 duplicate=19 skipped=3 quarantined=0"
    )


def test_cli_missing_file_is_a_clear_error(cli, tmp_path):
    result = cli("--mbox", str(tmp_path / "nope.mbox"))
    assert result.exit_code == 1
    assert "error: no mbox file at" in result.stderr
    assert "Traceback" not in result.output


def test_cli_without_sources_is_a_usage_error(cli):
    result = cli()
    assert result.exit_code == 2 and "nothing to read" in result.stderr


def test_cli_unreachable_imap_server(cli):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = cli("--imap-host", "127.0.0.1", "--imap-port", str(port), "--imap-user", "u",
                 "--imap-password", "p", "--plain", "--once")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"error: cannot reach IMAP server 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout.strip().endswith("quarantined=0")


def test_cli_refuses_plain_password_to_a_remote_host(cli):
    result = cli("--imap-host", "imap.example.com", "--imap-user", "u", "--imap-password", "p",
                 "--plain", "--once")  # fmt: skip
    assert result.exit_code == 1 and "unencrypted" in result.stderr


def test_cli_imap_needs_credentials(cli):
    result = cli("--imap-host", "127.0.0.1", "--once")
    assert result.exit_code == 2 and "--imap-user" in result.stderr


def test_cli_rejects_two_security_modes(cli):
    result = cli("--imap-host", "h", "--imap-user", "u", "--imap-password", "p", "--ssl",
                 "--starttls")  # fmt: skip
    assert result.exit_code == 2 and "choose one of" in result.stderr


def test_cli_password_file(cli, tmp_path):
    missing = str(tmp_path / "missing")
    result = cli("--imap-host", "127.0.0.1", "--imap-port", "1", "--imap-user", "u",
                 "--imap-password-file", missing, "--plain", "--once")  # fmt: skip
    assert result.exit_code == 1 and "cannot read --imap-password-file" in result.stderr
