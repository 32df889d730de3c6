"""A real stack per test: the API in-process, `ticketflow worker` processes on the real Redis."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from producer.api.app import create_app
from shared.config import Settings, load_settings
from shared.db import make_engine
from shared.models import Ticket, TriageResult
from tests.conftest import REDIS_TEST_URL
from tests.factories import make_api_key
from ticketflow.processes import Child, child_env, start_worker, wait_until, worker_ready

KEY = {"X-API-Key": "it-key"}  # TICKETFLOW_API_KEYS: intake only
# A scoped key with every scope, stored in the stack's database: the test client's default.
ALL_KEY = {"X-API-Key": "tf_0000itall_every-scope-integration-key"}
pytestmark = pytest.mark.integration


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    client: TestClient
    log_dir: Path
    workers: list[Child] = field(default_factory=list)

    def start_worker(self, name: str = "worker", **env: str) -> Child:
        w = start_worker(
            {**self.env, **env}, self.log_dir, gpu="cpu", name=f"{name}{len(self.workers)}"
        )
        self.workers.append(w)
        wait_until(lambda: worker_ready(w), 180, f"{w.name} to be ready", w)
        return w

    def session(self) -> Session:
        return Session(make_engine(self.settings.resolved_database_url))

    def wait_for(self, pred: Callable[[list[Ticket]], bool], timeout: float = 120) -> None:
        def check() -> bool:
            with self.session() as s:
                return pred(list(s.exec(select(Ticket)).all()))

        live = next((w for w in reversed(self.workers) if w.alive()), None)
        wait_until(check, timeout, "tickets to reach the expected state", live, interval=0.5)

    def results(self) -> list[TriageResult]:
        with self.session() as s:
            return list(s.exec(select(TriageResult)).all())


@pytest.fixture
def stack_settings() -> dict[str, object]:
    """More settings for the stack; a test module overrides this fixture (e.g. connectors)."""
    return {}


@pytest.fixture
def stack(
    db_url: str,
    tmp_path: Path,
    tiny_models: tuple[Path, Path],
    stack_settings: dict[str, object],
) -> Iterator[Stack]:
    run = uuid.uuid4().hex[:8]
    values: dict[str, object] = {
        "database_url": db_url,
        "redis_url": REDIS_TEST_URL,
        "queue": f"it-{run}",
        "backfill_queue": f"it-{run}.backfill",
        "draft_model": str(tiny_models[0]),
        "encoder_model": str(tiny_models[1]),
        "data_dir": str(tmp_path),
        "batch_size": "4",
        "max_batch_wait_ms": "200",
        "max_new_tokens": "8",
        "device": "cpu",
        "api_keys": "it-key",
        "task_time_limit_s": "10",
        "visibility_timeout_s": "12",
        "redelivery_check_s": "2",
        "languages": "en,es,de,fr",
        **stack_settings,
    }
    env = child_env(
        {
            f"TICKETFLOW_{k.upper()}": v if isinstance(v, str) else json.dumps(v)
            for k, v in values.items()
        }
    )
    settings = load_settings(**values)
    with Session(make_engine(settings.resolved_database_url)) as session:
        make_api_key(session, ALL_KEY["X-API-Key"], ["intake", "read", "review", "admin"], "all")
    with TestClient(create_app(settings), headers=ALL_KEY) as client:
        st = Stack(settings, env, client, tmp_path / "logs")
        try:
            yield st
        finally:
            for w in st.workers:
                w.stop()
            r = redis.Redis.from_url(REDIS_TEST_URL)
            r.delete(settings.queue, settings.backfill_queue)
            time.sleep(0)
