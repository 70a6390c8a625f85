"""Specifications: this site's versions and the other sites' replicas.

Revision ID: release_testing_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "release_testing_0001"
down_revision = None
branch_labels = ("release_testing",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "specification",
        sa.Column("spec_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("product", sa.String(200), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("update_time", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
