"""`ticketflow users` and `ticketflow keys`: hashes stored, keys shown once, errors in words."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from shared.models import ApiKey, AuditEvent, User, UserSession
from tests.conftest import SetEnv
from tests.factories import PASSWORD
from tests.helpers import log_in
from ticketflow.cli import app

runner = CliRunner()


def _cli(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=stdin)


def test_users_add_list_disable_and_reset(
    settings_env: SetEnv, db_url: str, tmp_path: Path, session: Session, client: TestClient
) -> None:
    settings_env(database_url=db_url, data_dir=tmp_path)
    r = _cli("users", "add", "Rita", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 0 and "added admin 'rita'" in r.output, r.output
    user = session.exec(select(User)).one()
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert PASSWORD not in r.output
    again = _cli("users", "add", "rita", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = _cli("users", "add", "sam", "--password-stdin", stdin="short\n")
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    assert "rita\tadmin\tactive" in _cli("users", "list").output

    log_in(client, "rita", PASSWORD)
    assert client.get("/audit").status_code == 200
    assert _cli("users", "disable", "rita").exit_code == 0
    assert client.get("/audit").status_code == 401  # the live session ended
    session.expire_all()
    assert session.exec(select(UserSession)).all() == []
    assert "rita\tadmin\tdisabled" in _cli("users", "list").output
    assert _cli("users", "enable", "rita").exit_code == 0
    r = _cli("users", "reset-password", "rita", "--password-stdin", stdin="a new long password\n")
    assert r.exit_code == 0
    log_in(client, "rita", "a new long password")
    missing = _cli("users", "disable", "nobody")
    assert missing.exit_code == 1 and "no user 'nobody'" in missing.output
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert {"user_added", "user_disabled", "user_enabled", "password_reset"} <= set(actions)


def test_keys_create_shows_the_key_once_and_revoke_refuses_it(
    settings_env: SetEnv, db_url: str, tmp_path: Path, session: Session, client: TestClient
) -> None:
    settings_env(database_url=db_url, data_dir=tmp_path)
    r = _cli("keys", "create", "dashboard", "--scope", "read,review")
    assert r.exit_code == 0, r.output
    secret = r.output.strip().splitlines()[-1]
    assert secret.startswith("tf_") and "not shown again" in r.output
    row = session.exec(select(ApiKey).where(ApiKey.name == "dashboard")).one()
    assert row.scopes == ["read", "review"] and secret not in row.secret_hash
    listing = _cli("keys", "list").output
    assert "dashboard" in listing and "read,review" in listing and secret not in listing
    assert client.get("/tickets", headers={"X-API-Key": secret}).status_code == 200

    bad = _cli("keys", "create", "x", "--scope", "root")
    assert bad.exit_code == 2 and "unknown scope(s) root" in bad.output
    assert _cli("keys", "create", "dashboard", "--scope", "read").exit_code == 1  # name taken

    assert _cli("keys", "revoke", "dashboard").exit_code == 0
    assert client.get("/tickets", headers={"X-API-Key": secret}).status_code == 401
    assert "revoked" in _cli("keys", "list").output
    assert _cli("keys", "revoke", "dashboard").exit_code == 1  # nothing live left


def test_an_unmigrated_database_is_one_line_not_a_traceback(
    settings_env: SetEnv, tmp_path: Path
) -> None:
    settings_env(database_url=f"sqlite:///{tmp_path / 'empty.db'}", data_dir=tmp_path)
    r = _cli("users", "list")
    assert r.exit_code == 1 and "ticketflow db upgrade" in r.output
    assert "Traceback" not in r.output
