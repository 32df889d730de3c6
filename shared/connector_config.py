"""The settings of one helpdesk connector, and how its tickets are named in ticketflow.

Part of the one ``Settings`` object (``TICKETFLOW_CONNECTORS`` JSON and/or the TOML file named
by ``TICKETFLOW_CONNECTORS_FILE``); see docs/connectors/README.md. Secrets are ``SecretStr``
(shown as ``**********`` in any repr or log) and may come from a file (``token_file``,
``webhook_secret_file``), read once at start: a missing file stops the process naming it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

KINDS = ("zammad", "zendesk", "freshdesk", "chatwoot", "rt")
# What a connector may write back: the triage result's labels.
LABELS = ("category", "priority", "sentiment", "language", "needs_human_triage")
NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
SOURCE_PREFIX = "helpdesk:"


class ConnectorConfig(BaseModel):
    """One configured helpdesk. ``fields``/``values``/``tags`` map ticketflow's labels to the
    helpdesk's own fields and tags (``ticketflow integrations check NAME`` verifies them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["zammad", "zendesk", "freshdesk", "chatwoot", "rt"]
    url: str = Field(description="Base URL of the helpdesk, e.g. https://desk.example.com")
    token: SecretStr = Field(SecretStr(""), description="API token, key or password.")
    token_file: Path | None = Field(None, description="Read the token from this file.")
    user: str = Field("", description="Zendesk agent email; RT user name.")
    account_id: int | None = Field(None, ge=1, description="Chatwoot account id.")
    webhook_secret: SecretStr = Field(SecretStr(""), description="Inbound signing/shared secret.")
    webhook_secret_file: Path | None = None
    # ticketflow label -> the helpdesk field it is written to (a custom field's name or id).
    fields: dict[str, str] = Field(default_factory=dict)
    # ticketflow label -> {ticketflow value: the helpdesk's value}, e.g. priority urgent -> 4.
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Labels written as tags ("<tag_prefix><label>-<value>", e.g. tf-category-billing).
    tags: list[str] = Field(default_factory=lambda: ["category", "priority"])
    tag_prefix: str = Field("tf-", max_length=20)
    reply_mode: Literal["post", "draft"] = Field(
        "draft",
        description="After an approval in ticketflow: 'post' the public reply, or leave it "
        "as a draft (Zammad shared draft, otherwise an internal note) for the agent to send.",
    )
    timeout_s: float = Field(10.0, gt=0, le=120)
    # Kind-specific extras (e.g. RT's queue); each connector documents the keys it reads.
    options: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/")

    @field_validator("fields", "values")
    @classmethod
    def _known_labels(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = set(v) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown labels {sorted(unknown)}; known: {', '.join(LABELS)}")
        return v

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, v: list[str]) -> list[str]:
        unknown = set(v) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown labels {sorted(unknown)}; known: {', '.join(LABELS)}")
        return v

    @model_validator(mode="after")
    def _read_secret_files(self) -> ConnectorConfig:
        for name in ("token", "webhook_secret"):
            path: Path | None = getattr(self, f"{name}_file")
            if path is None:
                continue
            try:
                secret = path.read_text(encoding="utf-8").strip()
            except OSError as err:
                reason = f"{name}_file {str(path)!r} cannot be read: {err.strerror}"
                raise ValueError(reason) from None
            object.__setattr__(self, name, SecretStr(secret))
        return self

    def secret(self) -> str:
        return self.token.get_secret_value()


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise ValueError(
            f"connector name {name!r} must be 1-40 characters: lower-case letters, digits, - and _"
        )
    return name


def load_connectors_file(path: Path) -> dict[str, ConnectorConfig]:
    """``[connectors.NAME]`` tables of a TOML file (paths in it are relative to the file)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"cannot read {str(path)!r}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{str(path)!r} is not valid TOML: {err}") from None
    tables = data.get("connectors", {})
    if not isinstance(tables, dict):
        raise ValueError(f"{str(path)!r}: [connectors] must be a table of connector tables")
    out: dict[str, ConnectorConfig] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ValueError(f"{str(path)!r}: connectors.{name} must be a table")
        for key in ("token_file", "webhook_secret_file"):
            if key in table and not Path(table[key]).is_absolute():
                table[key] = str(path.parent / table[key])
        try:
            out[check_name(name)] = ConnectorConfig.model_validate(table)
        except ValueError as err:
            raise ValueError(f"{str(path)!r}: connectors.{name}: {err}") from None
    return out


def connector_source(name: str) -> str:
    """The ``Ticket.source`` of tickets that came from connector ``name``."""
    return f"{SOURCE_PREFIX}{name}"


def connector_of(source: str | None) -> str | None:
    """The connector a ticket came from, or None for tickets of other channels."""
    if source and source.startswith(SOURCE_PREFIX):
        return source[len(SOURCE_PREFIX) :]
    return None
