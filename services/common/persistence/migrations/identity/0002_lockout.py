"""Account lockout: consecutive failed password checks, and when the account was locked.

Revision ID: identity_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as table:
        # Wrong passwords since the last right one (log-ins and signatures alike).
        table.add_column(
            sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0")
        )
        # Set when failed_attempts reached the limit; cleared only by an administrator.
        table.add_column(sa.Column("locked_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
