"""Replicated executed batches and the material lots their steps added (genealogy).

Revision ID: site_view_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "site_view_0002"
down_revision = "site_view_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Text where the home site's operators or recipes choose the value: a longer one than
    # guessed here must not stop the view.
    op.create_table(
        "replica_batch",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("master_batch_record", sa.Text, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("last_event_time", sa.String(32), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger, nullable=False),
    )
    # The order of ListBatches and its page tokens.
    op.create_index("ix_replica_batch_listing", "replica_batch", ["home_site", "batch_id"])
    op.create_table(
        "replica_batch_material",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("home_site", sa.String(64), nullable=False),
        sa.Column("step_id", sa.Text, nullable=False),
        sa.Column("material", sa.Text, nullable=False),
        sa.Column("lot_id", sa.Text, nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
    )
    # Genealogy: which batches consumed a lot.
    op.create_index("ix_replica_batch_material_lot", "replica_batch_material", ["lot_id"])


def downgrade() -> None:
    raise RuntimeError("the site view is rebuilt from the stream, never downgraded in place")
