"""The identity database's table (schema owned by migrations/identity)."""

from __future__ import annotations

import sqlalchemy as sa

_metadata = sa.MetaData()
app_user = sa.Table(
    "app_user",
    _metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("printed_name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("home_site", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("password_changed_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False),
    sa.Column("locked_time", sa.DateTime(timezone=True), nullable=True),
)
# Built once (every signature reads the signer's row): SQLAlchemy reuses its compiled form.
USER_BY_NAME = sa.select(app_user).where(app_user.c.username == sa.bindparam("username"))
