"""Samples (this site's and replicas) and every site's batches as their events tell.

Revision ID: release_testing_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "release_testing_0002"
down_revision = "release_testing_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sample",
        sa.Column("sample_id", sa.String(32), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False, index=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("update_time", sa.String(32), nullable=False),
    )
    op.create_table(
        "release_batch",
        sa.Column("batch_id", sa.String(32), primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("open_issues", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
