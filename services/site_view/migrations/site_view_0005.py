"""Replicated samples (with their results), OOS investigations and dispositions.

Revision ID: site_view_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "site_view_0005"
down_revision = "site_view_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica_sample",
        sa.Column("sample_id", sa.String(64), primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("last_event_time", sa.String(32), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
    )
    # The order of ListSamples and its page tokens; and its filter by batch.
    op.create_index("ix_replica_sample_listing", "replica_sample", ["home_site", "sample_id"])
    op.create_index(
        "ix_replica_sample_batch", "replica_sample", ["batch_id", "home_site", "sample_id"]
    )
    op.create_table(
        "replica_investigation",
        sa.Column("investigation_id", sa.String(64), primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("last_event_time", sa.String(32), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_replica_investigation_listing", "replica_investigation",
        ["home_site", "investigation_id"],
    )
    op.create_index(
        "ix_replica_investigation_batch", "replica_investigation",
        ["batch_id", "home_site", "investigation_id"],
    )
    # Written once per decision; the key is the batch and the decision's number on it.
    op.create_table(
        "replica_disposition",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("last_event_time", sa.String(32), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_replica_disposition_listing", "replica_disposition",
        ["home_site", "batch_id", "number"],
    )


def downgrade() -> None:
    raise RuntimeError("the site view is rebuilt from the stream, never downgraded in place")
