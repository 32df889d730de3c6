"""Engine and sessions: the only place that knows how to reach the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from shared.config import Settings, get_settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT_S = 5
# How long a request waits for a free pooled connection before it gets a 503 (the pool's own
# default is 30 s, longer than a client or a load balancer waits).
POOL_TIMEOUT_S = 10.0


def make_engine(url: str) -> Engine:
    """An engine tuned per backend: SQLite gets WAL and a busy timeout for concurrent workers.

    ``hide_parameters``: a database error's message (logged, stored as a ticket's last error)
    would otherwise carry the statement's parameters, i.e. ticket bodies and e-mail addresses.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,
            pool_timeout=POOL_TIMEOUT_S,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # A server that accepts connections but never answers must not hang callers (/healthz).
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if url.startswith("postgresql") else {}
    return create_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=POOL_TIMEOUT_S,
        connect_args=connect_args,
    )


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """One engine (and pool) per URL per process."""
    return make_engine(url or get_settings().resolved_database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that is closed on exit; callers commit explicitly."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        yield session


def alembic_config(url: str) -> Config:
    # Alembic (with Mako and Pygments) costs ~0.2 s to import: only migrations need it, so the
    # API and the intake commands do not pay for it at start.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings | None = None, revision: str = "head") -> None:
    """Apply migrations; the demo and `ticketflow db upgrade` both go through here."""
    url = (settings or get_settings()).resolved_database_url
    if url.startswith("sqlite"):
        make_engine(url).dispose()  # creates the parent directory
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The migration the database is at (None: not migrated at all)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
