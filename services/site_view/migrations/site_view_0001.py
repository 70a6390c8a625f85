"""Replicated master batch record versions and per-site watermarks.

Revision ID: site_view_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "site_view_0001"
down_revision = None
branch_labels = ("site_view",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica_master_batch_record",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("last_event_time", sa.String(32), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("record_id", "version"),
    )
    # The order of ListMasterBatchRecords and its page tokens.
    op.create_index(
        "ix_replica_master_batch_record_listing",
        "replica_master_batch_record",
        ["home_site", "record_id", "version"],
    )
    op.create_table(
        "watermark",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("last_event_time", sa.String(32), nullable=True),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
        sa.Column("events_applied", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("the site view is rebuilt from the stream, never downgraded in place")
