"""Replicated conjugation runs and the latest reading of each of their tags.

Revision ID: site_view_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "site_view_0004"
down_revision = "site_view_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica_run",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("last_event_time", sa.String(32), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
    )
    # The order of ListRuns and its page tokens; and its filter by batch.
    op.create_index("ix_replica_run_listing", "replica_run", ["home_site", "run_id"])
    op.create_index("ix_replica_run_batch", "replica_run", ["batch_id", "home_site", "run_id"])
    # Tags and units are the home site's to choose: text, so a longer one never stops the view.
    op.create_table(
        "replica_latest",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("tag", sa.Text, primary_key=True),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("the site view is rebuilt from the stream, never downgraded in place")
