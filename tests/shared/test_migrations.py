"""The Alembic migrations must build exactly the schema the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import shared.models  # noqa: F401
from tests.factories import make_ticket


def test_migrations_match_models(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_ticket_roundtrip_on_both_backends(session: Session) -> None:
    t = make_ticket(session, external_id="abc")
    assert t.id is not None and t.status == "queued"
    assert t.created_at.tzinfo is not None
