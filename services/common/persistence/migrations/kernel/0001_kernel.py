"""Kernel tables every service database holds: audit trail, outbox, inbox, idempotent requests.

Revision ID: kernel_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "kernel_0001"
down_revision = None
branch_labels = ("kernel",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("sequence", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("occur_time", sa.String(32), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("aggregate_type", sa.String(64), nullable=False),
        sa.Column("aggregate_id", sa.String(128), nullable=False, index=True),
        sa.Column("old_value", sa.Text, nullable=False),
        sa.Column("new_value", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "outbox",
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_time", sa.String(32), nullable=False),
        sa.Column("published_time", sa.String(32), nullable=True),
    )
    op.create_index(
        "outbox_unpublished",
        "outbox",
        ["position"],
        sqlite_where=sa.text("published_time IS NULL"),
        postgresql_where=sa.text("published_time IS NULL"),
    )
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
        sa.Column("handled_time", sa.String(32), nullable=False),
    )
    op.create_table(
        "request_record",
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("method", sa.String(255), nullable=False),
        sa.Column("principal", sa.String(128), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("response", sa.LargeBinary, nullable=False),
        sa.Column("created_time", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
