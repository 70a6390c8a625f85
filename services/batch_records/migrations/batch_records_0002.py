"""Executed batch records and the equipment register.

Revision ID: batch_records_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "batch_records_0002"
down_revision = "batch_records_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch",
        sa.Column("batch_id", sa.String(32), primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("update_time", sa.String(32), nullable=False),
        sa.UniqueConstraint("year", "number"),
    )
    op.create_table(
        "equipment",
        sa.Column("equipment_id", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
