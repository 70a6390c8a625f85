"""Transfer packages, and this site's master record versions as their events tell.

Revision ID: tech_transfer_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "tech_transfer_0001"
down_revision = None
branch_labels = ("tech_transfer",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfer_package",
        sa.Column("package_id", sa.String(32), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("sending_site", sa.String(64), nullable=False),
        sa.Column("receiving_site", sa.String(64), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("update_time", sa.String(32), nullable=False),
    )
    op.create_table(
        "known_master",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
