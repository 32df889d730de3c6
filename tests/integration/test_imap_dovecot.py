"""`ingest-email` against a real IMAP server: Dovecot on loopback, started by these tests.

The session fixture writes its own minimal Dovecot config in a temp dir (passwd-file user,
Maildir storage, plain IMAP plus implicit TLS with a self-signed certificate) and runs it on
free ports. Dovecot missing is a failure with instructions, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import typer
from imap_tools import MailBoxUnencrypted
from pydantic import SecretStr
from sqlmodel import Session, select
from typer.testing import CliRunner

from producer.email.cli import ingest_email
from producer.email.imap import ImapConfig
from producer.email.ingest import EmailIngester, IngestCounts
from producer.email.run import poll_imap
from shared.db import make_engine
from shared.errors import TransientError
from shared.models import Ticket, TicketMessage
from tests.conftest import REDIS_TEST_URL
from tests.helpers import RecordingPublisher
from tests.producer.test_email_parse import CORPUS, big_attachment_mail

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REPO = Path(__file__).parents[2]
USER, PASSWORD = "tf", "secret"
CORPUS_COUNTS = "ingested=15 threaded=3 duplicate=1 skipped=3 quarantined=1"

DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = ticketflow-test-{port}
protocols = imap
listen = 127.0.0.1
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 0
{internal_users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


@dataclass(frozen=True)
class Dovecot:
    host: str
    port: int
    ssl_port: int
    ca_file: Path

    def client(self) -> MailBoxUnencrypted:
        return MailBoxUnencrypted(self.host, self.port, timeout=10).login(USER, PASSWORD, None)


def _dovecot_binary() -> str:
    """The dovecot binary, installed by scripts/install-dovecot.sh if missing."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    script = REPO / "scripts" / "install-dovecot.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if not found:
        pytest.fail(
            "Dovecot is needed for the IMAP tests and could not be installed. Run "
            f"`sudo {script}` (apt-get install dovecot-imapd) and retry.\n"
            f"{proc.stdout[-1500:]}{proc.stderr[-1500:]}",
            pytrace=False,
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, log: Path, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"Dovecot did not listen on {port}:\n{log.read_text() if log.exists() else ''}")


def _write_config(root: Path, port: int, ssl_port: int) -> Path:
    """Dovecot runs as root in CI containers and as the current user on laptops."""
    if os.getuid() == 0:
        import pwd

        mail_user = pwd.getpwnam("dovecot")  # mail may not be owned by uid 0
        internal = ""
    else:
        import grp
        import pwd

        mail_user = pwd.getpwuid(os.getuid())
        group = grp.getgrgid(os.getgid()).gr_name
        internal = (
            f"default_internal_user = {mail_user.pw_name}\n"
            f"default_internal_group = {group}\ndefault_login_user = {mail_user.pw_name}"
        )
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    home = root / "mail" / USER
    (root / "users").write_text(
        f"{USER}:{{PLAIN}}{PASSWORD}:{mail_user.pw_uid}:{mail_user.pw_gid}::{home}::\n"
    )
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"),
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    conf = root / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(root=root, port=port, ssl_port=ssl_port, internal_users=internal)
    )
    return conf


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    binary = _dovecot_binary()
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    if not version.startswith("2.3"):
        pytest.fail(f"this fixture writes a Dovecot 2.3 config; found {version!r}", pytrace=False)
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed for the TLS test: run scripts/install-dovecot.sh")
    root = Path(tempfile.mkdtemp(prefix="tf-dovecot-"))
    root.chmod(0o755)  # Dovecot's unprivileged processes must reach the mail and users file
    port, ssl_port = _free_port(), _free_port()
    conf = _write_config(root, port, ssl_port)
    # Output to a file, not a pipe: the daemon keeps its stdio and a pipe would never close.
    start_log = root / "start.log"
    with start_log.open("w") as out:
        code = subprocess.run([binary, "-c", str(conf)], stdout=out, stderr=out, timeout=30)
    if code.returncode != 0:
        pytest.fail(f"Dovecot did not start: {start_log.read_text()}", pytrace=False)
    try:
        _wait_for_port(port, root / "dovecot.log")
        yield Dovecot("127.0.0.1", port, ssl_port, root / "cert.pem")
    finally:
        subprocess.run([binary, "-c", str(conf), "stop"], capture_output=True, timeout=30)
        pid_file = root / "run" / "master.pid"
        for _ in range(50):
            if not pid_file.exists():
                break
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def folder(dovecot: Dovecot) -> Iterator[str]:
    """A fresh IMAP folder per test, so tests and database backends never see each other."""
    name = f"T{uuid.uuid4().hex[:10]}"
    with dovecot.client() as box:
        box.folder.create(name)
    yield name


def append(dovecot: Dovecot, folder: str, messages: list[bytes]) -> None:
    with dovecot.client() as box:
        for raw in messages:
            box.append(raw, folder, flag_set=())


def flags_in(dovecot: Dovecot, folder: str) -> list[tuple[str, ...]]:
    with dovecot.client() as box:
        box.folder.set(folder)
        return [m.flags for m in box.fetch("ALL", mark_seen=False, headers_only=True)]


def corpus() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))] + [big_attachment_mail()]


@pytest.fixture
def run_cli(settings, monkeypatch):
    """Invoke the command against the test database, recording the queue unless told not to."""
    recorder = RecordingPublisher()
    monkeypatch.setattr("producer.email.cli.settings_or_exit", lambda: settings)
    monkeypatch.setattr("producer.email.cli.make_publisher", lambda _s: recorder)
    app = typer.Typer()
    app.command("ingest-email")(ingest_email)
    app.command("noop")(lambda: None)

    def invoke(dovecot: Dovecot, folder: str, *extra: str):
        args = ["ingest-email", "--imap-host", dovecot.host, "--imap-user", USER,
                "--imap-password", PASSWORD, "--folder", folder, "--once"]  # fmt: skip
        if not {"--ssl", "--starttls"} & set(extra):
            args += ["--plain", "--imap-port", str(dovecot.port)]
        return CliRunner().invoke(app, [*args, *extra])

    invoke.recorder = recorder  # type: ignore[attr-defined]
    return invoke


def test_imap_once_ingests_corpus_and_flags_seen(dovecot, folder, run_cli, session):
    append(dovecot, folder, corpus())
    assert all("\\Seen" not in f for f in flags_in(dovecot, folder))
    result = run_cli(dovecot, folder)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == CORPUS_COUNTS
    assert all("\\Seen" in f for f in flags_in(dovecot, folder))
    tickets = session.exec(select(Ticket)).all()
    assert len(tickets) == 15 and {t.source for t in tickets} == {"email"}
    big = session.exec(
        select(TicketMessage).where(TicketMessage.message_id == "<big-0001@example.com>")
    ).one()
    assert big.attachments[0]["size"] == 10 * 1024 * 1024
    # A second pass finds nothing unprocessed.
    again = run_cli(dovecot, folder)
    assert again.stdout.strip().endswith(
        "ingested=0 threaded=0 duplicate=0 skipped=0 quarantined=0"
    )


def test_processed_mail_moves_to_a_folder_with_a_keyword(dovecot, folder, run_cli, session):
    append(dovecot, folder, corpus()[:3])
    done = f"{folder}-done"
    result = run_cli(dovecot, folder, "--processed-folder", done,
                     "--processed-flag", "$Ticketflow")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert flags_in(dovecot, folder) == []
    moved = flags_in(dovecot, done)
    assert len(moved) == 3 and all("$Ticketflow" in f and "\\Seen" not in f for f in moved)


def test_mail_is_flagged_only_after_its_ticket_is_committed(dovecot, folder, db_url, session):
    append(dovecot, folder, [p.read_bytes() for p in sorted(CORPUS.glob("1[0-3]_*.eml"))])
    observer = make_engine(db_url)  # another connection sees only committed rows
    seen_at_ack: list[int] = []

    class CheckingIngester(EmailIngester):
        def ingest(self, raw, origin):
            if len(seen_at_ack) == 2:
                raise TransientError("database went away")
            return super().ingest(raw, origin)

    import producer.email.imap as imap_module

    original_ack = imap_module.ImapSource._ack

    def checking_ack(self, uid):
        with Session(observer) as other:
            seen_at_ack.append(len(other.exec(select(TicketMessage)).all()))
        original_ack(self, uid)

    config = ImapConfig("127.0.0.1", USER, PASSWORD, port=dovecot.port, security="plain",
                        folder=folder)  # fmt: skip
    ingester = CheckingIngester(session, RecordingPublisher(), "tickets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(imap_module.ImapSource, "_ack", checking_ack)
        with pytest.raises(TransientError):
            poll_imap(ingester, config, IngestCounts(), print, once=True, interval_s=1)
    observer.dispose()
    assert seen_at_ack == [1, 2]  # each mail's row was committed before its flag was set
    assert ["\\Seen" in f for f in flags_in(dovecot, folder)] == [True, True, False, False]
    # The unacknowledged mail is read again next time; nothing is duplicated.
    counts = IngestCounts()
    poll_imap(EmailIngester(session, RecordingPublisher(), "tickets"), config, counts, print,
              once=True, interval_s=1)  # fmt: skip
    assert counts.summary() == "ingested=0 threaded=2 duplicate=0 skipped=0 quarantined=0"
    assert len(session.exec(select(TicketMessage)).all()) == 4


def test_polling_picks_up_mail_that_arrives_later(dovecot, folder, session):
    raws = [p.read_bytes() for p in sorted(CORPUS.glob("1[0-1]_*.eml"))]
    append(dovecot, folder, raws[:1])
    config = ImapConfig("127.0.0.1", USER, PASSWORD, port=dovecot.port, security="plain",
                        folder=folder)  # fmt: skip
    counts, lines = IngestCounts(), []
    poll_imap(EmailIngester(session, RecordingPublisher(), "tickets"), config, counts,
              lines.append, once=False, interval_s=0.01, max_passes=2,
              sleep=lambda _s: append(dovecot, folder, raws[1:]))  # fmt: skip
    assert counts.summary() == "ingested=1 threaded=1 duplicate=0 skipped=0 quarantined=0"
    assert len(lines) == 2  # one progress line per pass that found mail


@pytest.mark.parametrize("mode", ["--ssl", "--starttls"])
def test_tls_with_a_self_signed_certificate(dovecot, folder, run_cli, session, mode):
    append(dovecot, folder, corpus()[:1])
    port = dovecot.ssl_port if mode == "--ssl" else dovecot.port
    untrusted = run_cli(dovecot, folder, mode, "--imap-port", str(port))
    assert untrusted.exit_code == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    trusted = run_cli(dovecot, folder, mode, "--imap-port", str(port), "--ca-file",
                      str(dovecot.ca_file))  # fmt: skip
    assert trusted.exit_code == 0, trusted.output
    assert trusted.stdout.strip().endswith("ingested=1 threaded=0 duplicate=0 skipped=0 "
                                           "quarantined=0")  # fmt: skip


def test_wrong_password_and_missing_folder_are_clear_errors(dovecot, folder, run_cli):
    bad = run_cli(dovecot, folder, "--imap-password", "wrong")
    assert bad.exit_code == 1 and f"IMAP login failed for '{USER}'" in bad.stderr
    missing = run_cli(dovecot, "NoSuchFolder")
    assert missing.exit_code == 1 and "'NoSuchFolder' does not exist" in missing.stderr
    assert "Traceback" not in bad.output + missing.output


def test_real_celery_enqueuer_publishes_to_redis(dovecot, folder, settings, monkeypatch):
    queue = f"tf-email-test-{uuid.uuid4().hex[:8]}"
    live = settings.model_copy(update={"queue": queue})
    monkeypatch.setattr("producer.email.cli.settings_or_exit", lambda: live)
    append(dovecot, folder, [p.read_bytes() for p in sorted(CORPUS.glob("1[0-2]_*.eml"))])
    app = typer.Typer()
    app.command("ingest-email")(ingest_email)
    app.command("noop")(lambda: None)
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        result = CliRunner().invoke(app, [
            "ingest-email", "--imap-host", dovecot.host, "--imap-port", str(dovecot.port),
            "--plain", "--imap-user", USER, "--imap-password", PASSWORD, "--folder", folder,
            "--once"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert result.stdout.strip().endswith("ingested=1 threaded=2 duplicate=0 skipped=0 "
                                              "quarantined=0")  # fmt: skip
        assert client.llen(queue) == 3  # the new ticket, then two re-triages
    finally:
        client.delete(queue)
        client.close()


def test_imap_options_come_from_settings(dovecot, folder, settings, monkeypatch, session):
    """TICKETFLOW_IMAP_* settings alone are enough: no connection options on the command line."""
    configured = settings.model_copy(update={
        "imap_host": dovecot.host, "imap_port": dovecot.port, "imap_user": USER,
        "imap_password": SecretStr(PASSWORD), "imap_security": "plain", "imap_folder": folder,
        "imap_processed_flag": "$Ticketflow"})  # fmt: skip
    recorder = RecordingPublisher()
    monkeypatch.setattr("producer.email.cli.settings_or_exit", lambda: configured)
    monkeypatch.setattr("producer.email.cli.make_publisher", lambda _s: recorder)
    app = typer.Typer()
    app.command("ingest-email")(ingest_email)
    app.command("noop")(lambda: None)
    append(dovecot, folder, corpus()[:2])
    result = CliRunner().invoke(app, ["ingest-email", "--once"])
    assert result.exit_code == 0, result.output
    assert len(session.exec(select(Ticket)).all()) >= 1 and recorder.sent
    assert all("$Ticketflow" in f for f in flags_in(dovecot, folder))
