"""The operator CLI: ``twinline users …`` (user directory of a site)."""

from __future__ import annotations

import typer

from services.cli_users import users_app

app = typer.Typer(help="Twinline operator tooling.", no_args_is_help=True)
app.add_typer(users_app, name="users")

if __name__ == "__main__":
    app()
