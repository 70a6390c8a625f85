"""``twinline users``: list, add, unlock and set passwords of the users of one site's identity
database."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from services.common import errors
from services.common.identity import Role, UserDirectory, open_user_directory
from services.common.settings import Settings

users_app = typer.Typer(help="Manage the users of a site.", no_args_is_help=True)
console = Console()
error_console = Console(stderr=True)

SiteOption = Annotated[
    str | None, typer.Option("--site", help="Site id; default: TWINLINE_SITE or syracuse.")
]
PasswordOption = Annotated[
    str | None,
    typer.Option("--password", help="Skip the prompt (scripts only: it lands in shell history)."),
]


def _settings(site: str | None) -> Settings:
    settings = Settings(site=site) if site else Settings()
    if settings.site not in settings.registry.ids():
        _fail(f"unknown site {settings.site!r}; known: {', '.join(settings.registry.ids())}")
    return settings


def _directory(site: str | None) -> UserDirectory:
    return open_user_directory(_settings(site))


def _fail(message: str) -> NoReturn:
    error_console.print(f"[red]{message}[/red]")
    raise typer.Exit(1)


def _report(error: errors.DomainError) -> NoReturn:
    lines = [error.message]
    if isinstance(error, errors.InvalidArgument):
        lines += [f"  {violation.field}: {violation.description}" for violation in error.violations]
    _fail("\n".join(lines))


def _new_password(password: str | None) -> str:
    if password is not None:
        return password
    entered: str = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    return entered


@users_app.command("list")
def list_users(site: SiteOption = None) -> None:
    """Shows every user of the site, active or not."""
    directory = _directory(site)
    table = Table(title=f"Users at {directory.engine.url.database or directory.engine.url}")
    table.add_column("Username", no_wrap=True)
    for column in ("Printed name", "Roles", "Home site", "Active", "Password set", "Locked"):
        table.add_column(column)
    for user in directory.list_users():
        table.add_row(
            user.username,
            user.printed_name,
            ", ".join(sorted(user.roles)),
            user.home_site,
            "yes" if user.active else "[red]no[/red]",
            f"{user.password_changed_time:%Y-%m-%d %H:%M}Z",
            f"[red]since {user.locked_time:%Y-%m-%d %H:%M}Z[/red]" if user.locked_time else "no",
        )
    console.print(table)


@users_app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="Login name, e.g. syracuse.jdoe.")],
    printed_name: Annotated[
        str, typer.Option("--name", help="Full name as printed next to signatures.")
    ],
    roles: Annotated[list[Role], typer.Option("--role", help="Repeat for several roles.")],
    site: SiteOption = None,
    password: PasswordOption = None,
) -> None:
    """Adds a user whose home is the site."""
    settings = _settings(site)
    directory = open_user_directory(settings)
    try:
        user = directory.add_user(
            username, printed_name, _new_password(password), roles, settings.site
        )
    except errors.DomainError as error:
        _report(error)
    console.print(f"added [bold]{user.username}[/bold] ({', '.join(sorted(user.roles))})")


@users_app.command("unlock")
def unlock(username: Annotated[str, typer.Argument()], site: SiteOption = None) -> None:
    """Unlocks a user locked after repeated wrong passwords (setting a password also does)."""
    directory = _directory(site)
    try:
        directory.unlock(username)
    except errors.DomainError as error:
        _report(error)
    console.print(f"[bold]{username}[/bold] unlocked")


@users_app.command("set-password")
def set_password(
    username: Annotated[str, typer.Argument()],
    site: SiteOption = None,
    password: PasswordOption = None,
) -> None:
    """Sets a user's password."""
    directory = _directory(site)
    try:
        directory.set_password(username, _new_password(password))
    except errors.DomainError as error:
        _report(error)
    console.print(f"password of [bold]{username}[/bold] changed")
