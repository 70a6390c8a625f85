"""The operator CLI: ``twinline users …`` (a site's users), ``twinline audit verify``."""

from __future__ import annotations

import typer

from services.cli_audit import audit_app
from services.cli_users import users_app

app = typer.Typer(help="Twinline operator tooling.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")

if __name__ == "__main__":
    app()
