"""helpdesk connectors: the connector_write outbox (labels and drafts written back)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connector_write",
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("send_after", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("enqueued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("lease_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("remote_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_connector_write_key"),
    )
    with op.batch_alter_table("connector_write", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connector_write_ticket_id"), ["ticket_id"], unique=False
        )
        batch_op.create_index(
            "ix_connector_write_dispatch", ["status", "enqueued_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("connector_write", schema=None) as batch_op:
        batch_op.drop_index("ix_connector_write_dispatch")
        batch_op.drop_index(batch_op.f("ix_connector_write_ticket_id"))
    op.drop_table("connector_write")
