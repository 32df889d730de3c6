"""Connector settings (JSON, TOML file, secret files, bad values) and the
``ticketflow integrations`` commands against a contract server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.config import load_settings
from shared.errors import ConfigError
from tests.conftest import SetEnv
from tests.connectors.conftest import serve
from tests.connectors.contract import ContractServer
from tests.connectors.test_zammad import ROUTES, TOKEN
from ticketflow.cli import app


@pytest.fixture
def server() -> Iterator[ContractServer]:
    yield from serve(
        ContractServer("zammad", ROUTES, lambda h: h.get("authorization") == f"Token token={TOKEN}")
    )


def test_toml_file_with_secret_files_and_json_merge(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "zammad.token").write_text("tok-123\n")
    (tmp_path / "zammad.hook").write_text("hook-456")
    toml = tmp_path / "connectors.toml"
    toml.write_text(
        "[connectors.desk]\n"
        'kind = "zammad"\n'
        'url = "https://desk.example.com/"\n'
        'token_file = "zammad.token"\n'
        'webhook_secret_file = "zammad.hook"\n'
        'fields = { category = "tf_category" }\n'
        'reply_mode = "post"\n'
    )
    monkeypatch.setenv(
        "TICKETFLOW_CONNECTORS",
        json.dumps({"chat": {"kind": "chatwoot", "url": "http://cw", "account_id": 2}}),
    )
    settings = load_settings(connectors_file=toml)
    desk = settings.connectors["desk"]
    assert (desk.url, desk.secret(), desk.webhook_secret.get_secret_value()) == (
        "https://desk.example.com",
        "tok-123",
        "hook-456",
    )
    assert "tok-123" not in repr(settings) and "hook-456" not in repr(settings)
    assert sorted(settings.connectors) == ["chat", "desk"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[connectors.desk]\nkind = "jira"\nurl = "http://x"\n', "kind"),
        ('[connectors.desk]\nkind = "zammad"\nurl = "ftp://x"\n', "http:// or https://"),
        (
            '[connectors.desk]\nkind = "zammad"\nurl = "http://x"\ntoken_file = "missing"\n',
            "cannot be read",
        ),
        (
            '[connectors.desk]\nkind = "zammad"\nurl = "http://x"\nfields = { mood = "x" }\n',
            "unknown labels",
        ),
        ('[connectors.Bad]\nkind = "zammad"\nurl = "http://x"\n', "connector name"),
        ("[connectors\n", "not valid TOML"),
    ],
)
def test_bad_connector_settings_stop_the_start_naming_the_variable(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_settings(connectors_file=path)
    assert "TICKETFLOW_CONNECTORS_FILE" in str(err.value) and message in str(err.value)


def test_same_name_in_json_and_file_is_refused(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[connectors.desk]\nkind = "zammad"\nurl = "http://x"\n')
    monkeypatch.setenv(
        "TICKETFLOW_CONNECTORS", json.dumps({"desk": {"kind": "zammad", "url": "http://y"}})
    )
    with pytest.raises(ConfigError, match="defined in both"):
        load_settings(connectors_file=path)


def _env(settings_env: SetEnv, url: str, token: str, tmp_path: Path) -> None:
    config = {
        "desk": {
            "kind": "zammad",
            "url": url,
            "token": token,
            "webhook_secret": "s",
            "fields": {"category": "tf_category", "priority": "priority_id"},
        }
    }
    settings_env(connectors=json.dumps(config), data_dir=tmp_path)


def test_integrations_check_against_the_helpdesk(
    server: ContractServer, settings_env: SetEnv, tmp_path: Path
) -> None:
    _env(settings_env, server.url, TOKEN, tmp_path)
    result = CliRunner().invoke(app, ["integrations", "check", "desk"])
    assert result.exit_code == 0, result.output
    assert "ok   credentials: signed in as ticketflow" in result.output
    assert "ok   field tf_category" in result.output
    assert TOKEN not in result.output
    listed = CliRunner().invoke(app, ["integrations", "list"])
    assert listed.exit_code == 0 and "desk\tzammad" in listed.output
    assert "/integrations/desk/events" in listed.output


def test_integrations_check_fails_on_bad_token_or_unknown_field(
    server: ContractServer, settings_env: SetEnv, tmp_path: Path
) -> None:
    _env(settings_env, server.url, "wrong", tmp_path)
    result = CliRunner().invoke(app, ["integrations", "check", "desk"])
    assert result.exit_code == 1 and "FAIL credentials" in result.output and "401" in result.output
    server.violations.clear()  # the refused request was the point
    config = {
        "desk": {
            "kind": "zammad",
            "url": server.url,
            "token": TOKEN,
            "fields": {"category": "nope"},
        }
    }
    settings_env(connectors=json.dumps(config))
    result = CliRunner().invoke(app, ["integrations", "check", "desk"])
    assert result.exit_code == 1
    assert "FAIL field nope: no such attribute" in result.output
    assert "FAIL webhook secret" in result.output
    unknown = CliRunner().invoke(app, ["integrations", "check", "other"])
    assert unknown.exit_code == 2
