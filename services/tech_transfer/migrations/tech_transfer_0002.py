"""Every site's reviewed results, for comparability.

Revision ID: tech_transfer_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "tech_transfer_0002"
down_revision = "tech_transfer_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "result_point",
        sa.Column("result_name", sa.String(80), primary_key=True),
        sa.Column("product", sa.String(200), nullable=False, index=True),
        sa.Column("attribute", sa.String(200), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("valid", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
