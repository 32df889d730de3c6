"""trust of input: sender verification, reviewer flag, linked ticket

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_verified", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("flag", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.add_column(sa.Column("linked_ticket_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("linked_ticket_id")
        batch_op.drop_column("flag")
        batch_op.drop_column("sender_verified")
