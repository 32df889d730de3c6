"""The one settings object: every tunable comes from here, nothing else reads ``os.environ``.

Values come from ``TICKETFLOW_*`` environment variables or an optional ``.env`` file. A bad
value stops the process at start with a message naming the variable, instead of failing on the
first ticket hours later.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from shared.errors import ConfigError

ENV_PREFIX = "TICKETFLOW_"
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
BUNDLED_DRAFT_MODEL = "bundled:smollm2-135m-instruct"
BUNDLED_ENCODER = "bundled:all-minilm-l6-v2"


class Settings(BaseSettings):
    """Runtime configuration shared by the API, the worker and the commands."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", validate_default=True
    )

    # Storage and broker.
    data_dir: Path = Field(Path(".ticketflow"), description="SQLite file, model cache.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker.")
    queue: str = Field("tickets", min_length=1, description="Queue for live tickets.")
    backfill_queue: str = Field("tickets.backfill", min_length=1, description="Low-priority queue.")

    # Models.
    engine: Literal["transformers", "fake", "fake-stall"] = Field(
        "transformers",
        description="'fake' is a small deterministic engine for tests only; 'fake-stall' is "
        "one whose drafting never returns (rehearses a wedged GPU).",
    )
    draft_model: str = Field(BUNDLED_DRAFT_MODEL, min_length=1, description="Causal LM id or path.")
    encoder_model: str = Field(BUNDLED_ENCODER, min_length=1, description="Encoder id or path.")
    taxonomy_file: Path | None = Field(None, description="JSON taxonomy; default is built in.")
    classifier_dir: Path | None = Field(None, description="Trained heads; default data_dir/heads.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(8, ge=1, le=256)
    max_batch_wait_ms: int = Field(50, ge=0, le=10_000)
    max_new_tokens: int = Field(128, ge=1, le=4096)
    max_input_tokens: int = Field(2048, ge=64, le=131_072)
    repetition_penalty: float = Field(1.15, ge=1.0, le=2.0)
    draft_max_seconds: float | None = Field(
        None,
        gt=0,
        description="Stop one generate call (a batch) after this long; default: half the "
        "task time limit.",
    )
    languages: str = Field(
        "en,es,fr,de,it,pt,nl,pl,sv,da,nb,fi,tr,ru,uk,zh,ja,ko,ar,hi,cs,ro,el,he",
        description="ISO 639-1 codes the language detector chooses from; empty means all.",
    )
    kb_top_k: int = Field(3, ge=0, le=20, description="Help passages put in each prompt.")
    kb_min_similarity: float = Field(0.4, ge=-1.0, le=1.0, description="Below: not relevant.")
    kb_refresh_s: float = Field(30.0, ge=1.0, description="How often workers look for new KB.")
    classifier_reload_s: float = Field(
        30.0, ge=1.0, description="How often workers look for a newly published classifier."
    )
    confidence_threshold: float = Field(0.5, ge=0.0, le=1.0)

    # Drafts a reviewer can send (issue 20): guardrails, languages, suggestions.
    draft_languages: str = Field(
        "en",
        description="ISO 639-1 codes the draft model writes well; a ticket in another language "
        "gets a flagged draft in team_language (or its approved reply/template). Empty: all.",
    )
    team_language: str = Field("en", min_length=2, description="Language of fallback drafts.")
    draft_signature: str = Field(
        "The Support Team", min_length=1, description="How every draft is signed."
    )
    draft_allowed_contacts: str = Field(
        "",
        description="Comma-separated emails, phone numbers and links drafts may contain besides "
        "those in the ticket and the knowledge base.",
    )
    draft_promise_phrases: dict[str, list[str]] | None = Field(
        None,
        description="JSON {language: [phrase, ...]}: commitments flagged for approval; "
        "default: a built-in list (refunds, credits, compensation, legal).",
    )
    draft_blocking_warnings: str = Field(
        "contact,placeholder,language,repetition",
        description="Warning codes that keep a draft from being approved unedited; empty: none.",
    )
    suggestion_min_similarity: float = Field(
        0.7, ge=-1.0, le=1.0, description="Approved replies below this similarity are not used."
    )
    suggestion_examples: int = Field(
        2, ge=0, le=5, description="Approved replies put in the prompt as examples; 0: none."
    )

    # Queue behaviour.
    worker_concurrency: int = Field(0, ge=0, le=512, description="0 means batch_size threads.")
    task_time_limit_s: int = Field(600, ge=10, description="Hard limit for one ticket.")
    model_stall_s: float | None = Field(
        None,
        gt=0,
        description="A model call (one batch) running this long is wedged: the worker puts its "
        "messages back on the queue and exits. Default: the task time limit.",
    )
    visibility_timeout_s: int = Field(3600, ge=10, description="Redelivery delay after a crash.")
    redelivery_check_s: int = Field(
        10,
        ge=1,
        description="How often workers look for messages "
        "abandoned by a dead worker (after the visibility timeout).",
    )
    max_retries: int = Field(5, ge=0, le=100)
    # Dispatch (dispatch/): the relay publishes stored tickets, recovery re-sends lost ones.
    relay_poll_s: float = Field(
        1.0, ge=0.1, le=60, description="How often each relay looks for tickets left to send."
    )
    relay_handoff_s: float = Field(
        5.0,
        ge=0,
        le=300,
        description="A ticket stored this recently is left to the producer that stored it "
        "(the API's own relay, a backfill's rate-limited sending).",
    )
    lease_s: int = Field(
        20,
        ge=5,
        le=3600,
        description="A worker's hold on a ticket lasts this long unless renewed (every quarter "
        "of it); recovery re-sends a ticket only once nobody holds it.",
    )
    recovery_interval_s: float = Field(
        5.0, ge=0, le=300, description="How often recovery looks for lost messages; 0: never."
    )

    # API.
    api_keys: str = Field("", description="Comma-separated keys accepted in X-API-Key.")
    api_read_auth: bool = Field(False, description="Also require X-API-Key on reads.")
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    public_url: str = Field("", description="Base URL printed for reviewers.")
    max_body_chars: int = Field(50_000, ge=100)

    # Email intake (`ticketflow ingest-email`); command-line options override these.
    imap_host: str = ""
    imap_port: int = Field(0, ge=0, le=65535, description="0: 993 with ssl, else 143.")
    imap_user: str = ""
    imap_password: SecretStr = SecretStr("")
    imap_security: Literal["ssl", "starttls", "plain"] = "ssl"
    imap_folder: str = "INBOX"
    imap_processed_flag: str = "\\Seen"
    imap_processed_folder: str = ""
    imap_poll_interval_s: int = Field(60, ge=1)
    email_max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        if not v:
            return v
        try:
            backend = make_url(v).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str) -> str:
        # memory:// is kombu's in-process broker: tests and single-process experiments.
        if urlsplit(v).scheme not in ("redis", "rediss", "unix", "memory"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return v

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_any_case(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check_timeouts(self) -> Settings:
        if self.visibility_timeout_s <= self.task_time_limit_s:
            raise ValueError(
                f"{ENV_PREFIX}VISIBILITY_TIMEOUT_S ({self.visibility_timeout_s}) must be above "
                f"{ENV_PREFIX}TASK_TIME_LIMIT_S ({self.task_time_limit_s}), or a slow ticket "
                "would be delivered twice"
            )
        if self.draft_max_seconds is not None and self.draft_max_seconds >= self.task_time_limit_s:
            raise ValueError(
                f"{ENV_PREFIX}DRAFT_MAX_SECONDS ({self.draft_max_seconds}) must be below "
                f"{ENV_PREFIX}TASK_TIME_LIMIT_S ({self.task_time_limit_s}): the threads pool "
                "cannot interrupt a task, so generation has to stop itself in time"
            )
        if self.stall_seconds <= self.draft_seconds:
            raise ValueError(
                f"{ENV_PREFIX}MODEL_STALL_S ({self.stall_seconds:g}) must be above the draft "
                f"time limit ({self.draft_seconds:g} s, {ENV_PREFIX}DRAFT_MAX_SECONDS): a "
                "generate call that stops itself in time is slow, not wedged"
            )
        return self

    @property
    def draft_seconds(self) -> float:
        """The generation time limit: the threads pool cannot interrupt a task itself."""
        return self.draft_max_seconds or self.task_time_limit_s / 2

    @property
    def stall_seconds(self) -> float:
        """How long one model call may run before the worker counts it as wedged."""
        return self.model_stall_s or float(self.task_time_limit_s)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'ticketflow.db').resolve()}"

    @property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def concurrency(self) -> int:
        return self.worker_concurrency or self.batch_size

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def heads_dir(self) -> Path:
        return self.classifier_dir or self.data_dir / "heads"

    @property
    def draft_language_set(self) -> frozenset[str]:
        return frozenset(c.strip().lower() for c in self.draft_languages.split(",") if c.strip())

    @property
    def blocking_warning_set(self) -> frozenset[str]:
        return frozenset(
            c.strip().lower() for c in self.draft_blocking_warnings.split(",") if c.strip()
        )

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.api_host}:{self.api_port}"


def redact_url(url: str) -> str:
    """The URL with any password replaced: it must not reach a log or a terminal."""
    return _URL_PASSWORD.sub(r"\1***@", url)


def _explain(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        name = f"{ENV_PREFIX}{loc.upper()}" if loc else "settings"
        got = e.get("input")
        if isinstance(got, str):
            got = redact_url(got)
        lines.append(f"{name}: {e['msg']} (got {got!r})" if loc else e["msg"])
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one readable ``ConfigError``."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise ConfigError(_explain(err)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def default(name: str) -> Any:
    """A setting's declared default, for code that takes the value as a parameter: each
    default is written once, in ``Settings``, never again in a module."""
    return Settings.model_fields[name].default


def settings_or_exit() -> Settings:
    """The settings for a command: an invalid one is one line on stderr and exit code 2.

    Every CLI edge starts with this, so a bad setting reads the same everywhere (no traceback).
    """
    try:
        return get_settings()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
