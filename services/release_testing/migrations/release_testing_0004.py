"""Certificates of analysis and dispositions.

Revision ID: release_testing_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "release_testing_0004"
down_revision = "release_testing_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate",
        sa.Column("sample_id", sa.String(32), primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False, index=True),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("pdf", sa.LargeBinary, nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("issue_time", sa.String(32), nullable=False),
    )
    op.create_table(
        "disposition",
        sa.Column("batch_id", sa.String(32), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("decide_time", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
