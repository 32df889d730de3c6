"""review claims on tickets and the prompt each draft was made from

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("triage_result", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prompt", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("triage_result", schema=None) as batch_op:
        batch_op.drop_column("prompt")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
