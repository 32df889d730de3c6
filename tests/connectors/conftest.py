"""Fixtures for the connector tests: settings with one connector pointed at the module's
contract server (each test module provides ``server`` and ``connector_config``), the API
client from the producer tests, and a way to triage a ticket exactly as a worker does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.registry import Registry
from shared.config import Settings
from shared.connector_config import ConnectorConfig
from shared.models import ConnectorWrite, Ticket, TriageResult
from tests.connectors.contract import ContractServer
from worker.pipeline.ticket_state import claim, store

NAME = "desk"


@pytest.fixture
def settings(
    settings: Settings, server: ContractServer, connector_config: dict[str, Any]
) -> Settings:
    config = ConnectorConfig.model_validate({**connector_config, "url": server.url})
    return settings.model_copy(
        update={
            "connectors": {NAME: config},
            "delivery_hold_s": 0.0,
            "delivery_backoff_s": 0.01,
            "delivery_max_backoff_s": 0.05,
            "delivery_max_attempts": 3,
        }
    )


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    r = Registry(settings)
    yield r
    r.close()


def serve(server: ContractServer) -> Iterator[ContractServer]:
    """Run ``server`` for a test and fail it if any request strayed from the docs."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert server.violations == [], server.violations


def triage(db: Engine, ticket_id: int, draft: str = "We refunded the second payment.") -> None:
    """Claim and store a result for the ticket's current revision, as a worker does: the
    helpdesk write-backs commit in the same transaction."""
    with Session(db) as s:
        revision = s.get_one(Ticket, ticket_id).revision
    outcome, _, _ = claim(db, ticket_id, revision)
    assert outcome is None
    result = TriageResult(
        ticket_id=ticket_id,
        revision=revision,
        category="billing",
        category_confidence=0.9,
        priority="high",
        priority_confidence=0.8,
        sentiment="negative",
        sentiment_confidence=0.7,
        language="en",
        language_confidence=0.99,
        draft_reply=draft,
        warnings=[{"code": "promise", "message": "promises a refund", "blocking": False}],
        classifier_model="m",
        classifier_version="v",
        draft_model="d",
        engine_instance="e",
        worker="w",
    )
    store(db, result)


def writes(session: Session, ticket_id: int) -> list[ConnectorWrite]:
    session.expire_all()
    stmt = select(ConnectorWrite).where(ConnectorWrite.ticket_id == ticket_id)
    return sorted(session.exec(stmt).all(), key=lambda w: w.id or 0)


from tests.producer.conftest import client, fake_redis, publisher  # noqa: E402

__all__ = ["client", "fake_redis", "publisher"]
