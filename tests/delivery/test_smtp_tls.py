"""SMTP over TLS against a real server on loopback: smtps:// (TLS from the first byte) and
STARTTLS, the certificate verified against TICKETFLOW_SMTP_CA_FILE, and refused without it."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from delivery.send import Channels, deliver_reply
from shared.config import Settings
from shared.models import OutboundMessage
from tests.delivery.conftest import approved
from ticketflow.smtp_sink import SmtpSink

# The TLS handshake does not depend on the database: one backend keeps CI short.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command line."""
    assert shutil.which("openssl"), "openssl is needed to make a test certificate"
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "server.crt", d / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(crt), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt, key


def _context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert)
    return ctx


def _send(session: Session, db: Engine, settings: Settings) -> OutboundMessage:
    channels = Channels.from_settings(settings)
    try:
        (row,) = session.exec(select(OutboundMessage)).all()
        deliver_reply(db, settings, channels, row.id or 0)
    finally:
        channels.close()
    session.expire_all()
    return session.exec(select(OutboundMessage)).one()


@pytest.mark.parametrize("starttls", [False, True], ids=["smtps", "starttls"])
def test_tls_verified_with_the_ca_file(
    session: Session,
    db_engine: Engine,
    dsettings: Settings,
    cert: tuple[Path, Path],
    starttls: bool,
) -> None:
    sink = SmtpSink(tls=_context(cert), starttls=starttls).start()
    try:
        approved(session, dsettings)
        untrusted = dsettings.model_copy(update={"smtp_url": SecretStr(sink.url)})
        row = _send(session, db_engine, untrusted)
        assert row.status == "pending" and "certificate not trusted" in (row.last_error or "")
        assert sink.received == []
        import time

        time.sleep(0.06)
        trusted = untrusted.model_copy(update={"smtp_ca_file": cert[0]})
        assert _send(session, db_engine, trusted).status == "sent"
        assert len(sink.wait_for(1)) == 1
    finally:
        sink.stop()


def test_starttls_refused_by_a_plain_server(
    session: Session, db_engine: Engine, dsettings: Settings, smtp_sink: SmtpSink
) -> None:
    """Asking for STARTTLS from a server without it fails clearly instead of sending in clear."""
    approved(session, dsettings)
    url = SecretStr(smtp_sink.url + "?starttls=true")
    row = _send(session, db_engine, dsettings.model_copy(update={"smtp_url": url}))
    assert row.status == "failed" and "does not support" in (row.last_error or "")
    assert smtp_sink.received == []
