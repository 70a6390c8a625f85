"""The result trend index (out of trend).

Revision ID: release_testing_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "release_testing_0005"
down_revision = "release_testing_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "result_trend",
        sa.Column("result_name", sa.String(80), primary_key=True),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("product", sa.String(200), nullable=False, index=True),
        sa.Column("attribute", sa.String(200), nullable=False),
        sa.Column("method_id", sa.String(64), nullable=False),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("review_time", sa.String(32), nullable=False),
        sa.Column("valid", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
