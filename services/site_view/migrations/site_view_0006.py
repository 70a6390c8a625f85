"""The change log: one row per replicated event taken in, which WatchChanges serves.

Revision ID: site_view_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "site_view_0006"
down_revision = "site_view_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_log",
        # Commit order: the one writer assigns it as it inserts, so a watcher that has read up
        # to a position never sees a lower one commit later (a stream sequence might: an event
        # whose transaction failed is taken in again after later ones). SQLite's rowid, as the
        # outbox's position.
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=True),
        # The event's sequence in this site's stream: the token clients resume from.
        sa.Column("stream_sequence", sa.BigInteger, nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("etag", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("event_time", sa.String(32), nullable=False),
    )
    # WatchChanges filtered by kind or by site reads on in commit order.
    op.create_index("ix_change_log_kind", "change_log", ["kind", "position"])
    op.create_index("ix_change_log_site", "change_log", ["home_site", "position"])


def downgrade() -> None:
    raise RuntimeError("the site view is rebuilt from the stream, never downgraded in place")
