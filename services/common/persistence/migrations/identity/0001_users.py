"""The site's user directory: who may log in, their printed name, roles and home site.

Revision ID: identity_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0001"
down_revision = None
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("username", sa.String(64), primary_key=True),
        # As printed next to the user's signatures (21 CFR 11.50).
        sa.Column("printed_name", sa.String(200), nullable=False),
        # argon2 encoded hash: algorithm, parameters and salt travel with it.
        sa.Column("password_hash", sa.String(255), nullable=False),
        # Comma-separated role names, e.g. "qa,supervisor".
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("home_site", sa.String(64), nullable=False),
        # Users are deactivated, never deleted: their signatures must stay attributable.
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise RuntimeError("GMP records are never dropped")
