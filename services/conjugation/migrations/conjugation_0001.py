"""Conjugation runs, the batches this site knows of, and the trend points of every site.

Revision ID: conjugation_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "conjugation_0001"
down_revision = None
branch_labels = ("conjugation",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_batch",
        sa.Column("batch_id", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("recipe", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "conjugation_run",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False, unique=True),
        sa.Column("batch_id", sa.String(32), nullable=False, index=True),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("update_time", sa.String(32), nullable=False),
    )
    op.create_table(
        "trend_point",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("attribute", sa.String(32), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("product", sa.String(200), nullable=False, index=True),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("record_time", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
