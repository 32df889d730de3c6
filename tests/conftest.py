"""Shared fixtures: real databases (a throwaway PostgreSQL database and a SQLite file).

PostgreSQL is reached at TEST_PG_URL's server (default 127.0.0.1:5432, user postgres, trust
auth); each test session creates its own database and drops it at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from shared.config import Settings, get_settings, load_settings
from shared.db import make_engine, upgrade

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"tf_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrated_settings(url: str, tmp: Path, **extra: object) -> Settings:
    settings = load_settings(database_url=url, data_dir=tmp, **extra)
    upgrade(settings)
    return settings


def _truncate_all(engine: Engine) -> None:
    tables = [
        "connector_write",
        "outbound_message",
        "webhook_delivery",
        "review",
        "triage_result",
        "ticket_message",
        "quarantined_input",
        "kb_passage",
        "ticket",
        "user_session",
        "app_user",
        "api_key",
        "audit_event",
    ]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f"DELETE FROM {t}"))


@pytest.fixture(scope="session")
def _pg_migrated(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    _migrated_settings(pg_url, tmp_path_factory.mktemp("pg"))
    return pg_url


@pytest.fixture(scope="session")
def _sqlite_migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session: each test gets a copy of it (migrating a new
    file per test cost ~0.1 s, times several hundred tests). Nothing writes to this one."""
    tmp = tmp_path_factory.mktemp("sqlite-template")
    path = tmp / "template.db"
    _migrated_settings(f"sqlite:///{path}", tmp)
    # Every connection is closed, so the WAL is checkpointed into the file and removed.
    assert not Path(f"{path}-wal").exists()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a fresh SQLite file (a copy of the session's migrated
    template), or the session's PostgreSQL database, emptied."""
    if request.param == "sqlite":
        path = tmp_path / "tf.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_migrated"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("_pg_migrated")
        engine = make_engine(url)
        _truncate_all(engine)
        engine.dispose()
        yield url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    with Session(db_engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=db_url,
        data_dir=tmp_path,
        engine="fake",
        redis_url=REDIS_TEST_URL,
        api_keys="test-key",
    )


SetEnv = Callable[..., None]


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[SetEnv]:
    """Set TICKETFLOW_* variables for code that reads ``get_settings()`` (CLI commands).

    ``settings_env(data_dir=..., device="cpu")`` sets TICKETFLOW_DATA_DIR and so on and drops
    the cached settings, so the next ``get_settings()`` sees them; the cache is dropped again
    at teardown.
    """

    def set_env(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"TICKETFLOW_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.tiny_models import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))
