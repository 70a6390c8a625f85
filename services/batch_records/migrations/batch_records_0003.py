"""Master record versions of other sites, effective here by an accepted transfer.

Revision ID: batch_records_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "batch_records_0003"
down_revision = "batch_records_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transferred_master",
        sa.Column("key", sa.String(48), primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("package", sa.String(64), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("effective_time", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
