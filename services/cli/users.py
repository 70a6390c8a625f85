"""``twinline users``: list, add, unlock and set passwords of the users of one site's identity
database.

Exit codes: 0 done, 1 refused (an unknown user, a password the policy rejects: each reason
printed), 2 bad arguments.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.table import Table

from services.cli.common import (
    Exit,
    OutputOption,
    checked_output,
    console,
    error_console,
    print_json,
    read_secret,
)
from services.common.domain import errors
from services.common.domain.roles import Role
from services.common.identity.directory import UserDirectory, open_user_directory
from services.common.settings import Settings

users_app = typer.Typer(help="Manage the users of a site.", no_args_is_help=True)
SiteOption = Annotated[
    str | None, typer.Option("--site", help="Site id; default: TWINLINE_SITE or syracuse.")
]
PasswordOption = Annotated[
    str | None,
    typer.Option("--password", help="Skip the prompt (scripts only: it lands in shell history)."),
]
PasswordFdOption = Annotated[
    int | None,
    typer.Option("--password-fd", help="Read the new password from this file descriptor."),
]


def _settings(site: str | None) -> Settings:
    settings = Settings(site=site) if site else Settings()
    if settings.site not in settings.registry.ids():
        _fail(f"unknown site {settings.site!r}; known: {', '.join(settings.registry.ids())}",
              Exit.USAGE)
    return settings


def _directory(site: str | None) -> UserDirectory:
    return open_user_directory(_settings(site))


def _site_named_by(username: str, site: str | None) -> str | None:
    """``--site`` if given, else the site a ``<site>.<name>`` username names, if known."""
    if site:
        return site
    prefix, dot, _ = username.partition(".")
    if dot and prefix in Settings().registry.ids():
        return prefix
    return None


def _fail(message: str, code: int = Exit.REFUSED) -> NoReturn:
    error_console.print(f"[red]{message}[/red]")
    raise typer.Exit(int(code))


def _report(error: errors.DomainError) -> NoReturn:
    lines = [error.message]
    if isinstance(error, errors.InvalidArgument):
        lines += [f"  {violation.field}: {violation.description}" for violation in error.violations]
    _fail("\n".join(lines))


def _new_password(password: str | None, descriptor: int | None) -> str:
    if password is not None:
        return password
    if descriptor is not None:
        return read_secret("New password", descriptor)
    entered: str = typer.prompt(
        "New password", hide_input=True, confirmation_prompt=True, err=True)
    return entered


@users_app.command("list")
def list_users(site: SiteOption = None, output: OutputOption = "text") -> None:
    """Shows every user of the site, active or not."""
    checked_output(output)
    directory = _directory(site)
    settings = _settings(site)
    if output == "json":
        print_json({"site": settings.site, "users": [
            {"username": user.username, "printed_name": user.printed_name,
             "roles": sorted(user.roles), "home_site": user.home_site, "active": user.active,
             "locked_time": user.locked_time.isoformat() if user.locked_time else None,
             "password_changed_time": user.password_changed_time.isoformat()}
            for user in directory.list_users()]})
        return
    # 80 columns hold every cell: dates and times on lines of their own, names wrap.
    table = Table(
        title=f"Users of {settings.site} ({directory.engine.url.database or 'db'})",
        pad_edge=False,
    )
    table.add_column("Username", no_wrap=True)
    table.add_column("Printed name", overflow="fold", ratio=3)
    table.add_column("Roles", overflow="fold", ratio=2)
    table.add_column("Status", no_wrap=True, min_width=10)
    table.add_column("Password\nset", no_wrap=True, min_width=10)
    for user in directory.list_users():
        status = "active" if user.active else "[red]inactive[/red]"
        if user.locked_time:
            locked = user.locked_time
            status = f"[red]locked since\n{locked:%Y-%m-%d}\n{locked:%H:%M}Z[/red]"
        table.add_row(
            user.username,
            user.printed_name if user.home_site == settings.site
            else f"{user.printed_name} (home: {user.home_site})",
            ", ".join(sorted(user.roles)),
            status,
            f"{user.password_changed_time:%Y-%m-%d}\n{user.password_changed_time:%H:%M}Z",
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
    password_fd: PasswordFdOption = None,
    output: OutputOption = "text",
) -> None:
    """Adds a user whose home is the site (the one the username names, unless --site)."""
    checked_output(output)
    settings = _settings(_site_named_by(username, site))
    directory = open_user_directory(settings)
    try:
        user = directory.add_user(
            username, printed_name, _new_password(password, password_fd), roles, settings.site
        )
    except errors.DomainError as error:
        _report(error)
    if output == "json":
        print_json({"added": user.username, "roles": sorted(user.roles),
                    "home_site": user.home_site})
        return
    console.print(f"added [bold]{user.username}[/bold] ({', '.join(sorted(user.roles))})")


@users_app.command("unlock")
def unlock(username: Annotated[str, typer.Argument()], site: SiteOption = None,
           output: OutputOption = "text") -> None:
    """Unlocks a user locked after repeated wrong passwords (setting a password also does)."""
    checked_output(output)
    directory = _directory(_site_named_by(username, site))
    try:
        directory.unlock(username)
    except errors.DomainError as error:
        _report(error)
    if output == "json":
        print_json({"unlocked": username})
        return
    console.print(f"[bold]{username}[/bold] unlocked")


@users_app.command("set-password")
def set_password(
    username: Annotated[str, typer.Argument()],
    site: SiteOption = None,
    password: PasswordOption = None,
    password_fd: PasswordFdOption = None,
    output: OutputOption = "text",
) -> None:
    """Sets a user's password (the site is the one the username names, unless --site)."""
    checked_output(output)
    directory = _directory(_site_named_by(username, site))
    try:
        directory.set_password(username, _new_password(password, password_fd))
    except errors.DomainError as error:
        _report(error)
    if output == "json":
        print_json({"password_changed": username})
        return
    console.print(f"password of [bold]{username}[/bold] changed")
