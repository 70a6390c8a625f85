"""Process readings: tags of runs, their packed chunks of points, their excursions.

Revision ID: conjugation_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "conjugation_0002"
down_revision = "conjugation_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reading_tag",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("batch", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("low_limit", sa.Float, nullable=True),
        sa.Column("high_limit", sa.Float, nullable=True),
        sa.Column("dwell_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("declare_time", sa.String(32), nullable=False),
    )
    op.create_table(
        "reading_chunk",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("chunk_start", sa.BigInteger, primary_key=True),
        sa.Column("chunk_end", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("times", sa.LargeBinary, nullable=False),
        sa.Column("values", sa.LargeBinary, nullable=False),
        sa.Column("qualities", sa.LargeBinary, nullable=False),
        sa.Column("min", sa.Float, nullable=False),
        sa.Column("max", sa.Float, nullable=False),
    )
    op.create_table(
        "reading_excursion",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=True),
        sa.Column("document", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
