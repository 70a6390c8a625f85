"""Replicated transfer packages (both sites' parts merged) and where each master record version
is effective (its home site, and every site that accepted its transfer).

Revision ID: site_view_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "site_view_0007"
down_revision = "site_view_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica_master_effectivity",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("package", sa.String(128), nullable=False),
        sa.Column("effective_time", sa.String(32), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "replica_transfer_package",
        sa.Column("package_id", sa.String(64), primary_key=True),
        sa.Column("sending_site", sa.String(64), nullable=False),
        sa.Column("receiving_site", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("sender_version", sa.BigInteger, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("sent", sa.Boolean, nullable=False),
        sa.Column("receipt_version", sa.BigInteger, nullable=False),
        sa.Column("receipt_revision", sa.BigInteger, nullable=False),
        sa.Column("receipt_state", sa.String(32), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("sender_event_time", sa.String(32), nullable=True),
        sa.Column("receipt_event_time", sa.String(32), nullable=True),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
    )
    # The order of ListTransferPackages and its page tokens; and its filter by receiving site.
    op.create_index(
        "ix_replica_transfer_package_listing", "replica_transfer_package",
        ["sending_site", "package_id"],
    )
    op.create_index(
        "ix_replica_transfer_package_receiving", "replica_transfer_package",
        ["receiving_site", "sending_site", "package_id"],
    )


def downgrade() -> None:
    raise RuntimeError("the site view is rebuilt from the stream, never downgraded in place")
