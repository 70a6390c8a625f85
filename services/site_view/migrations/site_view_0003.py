"""Watermarks remember each site's newest heartbeat (decision 0009: lag and current).

Revision ID: site_view_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "site_view_0003"
down_revision = "site_view_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("watermark") as table:
        table.add_column(sa.Column("last_heartbeat_time", sa.String(32), nullable=True))
        table.add_column(
            sa.Column("origin_last_sequence", sa.BigInteger, nullable=False, server_default="0")
        )
        # Microseconds; null before the first heartbeat.
        table.add_column(sa.Column("heartbeat_interval_us", sa.BigInteger, nullable=True))


def downgrade() -> None:
    raise RuntimeError("the site view is rebuilt from the stream, never downgraded in place")
