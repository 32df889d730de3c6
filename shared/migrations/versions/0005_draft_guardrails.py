"""draft warnings, reply suggestions and the reply examples they come from

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("triage_result", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warnings", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("suggestion", sa.JSON(), nullable=True))
    op.create_table(
        "reply_example",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("template_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("customer_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("ticket_text", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("template_id", name="uq_reply_example_template"),
    )
    with op.batch_alter_table("reply_example", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reply_example_language"), ["language"], unique=False)
        batch_op.create_index(batch_op.f("ix_reply_example_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reply_example", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_example_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_reply_example_language"))
    op.drop_table("reply_example")
    with op.batch_alter_table("triage_result", schema=None) as batch_op:
        batch_op.drop_column("suggestion")
        batch_op.drop_column("warnings")
