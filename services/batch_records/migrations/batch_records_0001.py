"""Master batch record versions.

Revision ID: batch_records_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "batch_records_0001"
down_revision = None
branch_labels = ("batch_records",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "master_batch_record",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(32), nullable=False, index=True),
        sa.Column("record_number", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("update_time", sa.String(32), nullable=False),
        sa.UniqueConstraint("record_id", "version"),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
