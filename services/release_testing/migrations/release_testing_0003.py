"""OOS investigations (this site's and replicas).

Revision ID: release_testing_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "release_testing_0003"
down_revision = "release_testing_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "investigation",
        sa.Column("investigation_id", sa.String(32), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False, index=True),
        sa.Column("result_name", sa.String(80), nullable=False, index=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("update_time", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
