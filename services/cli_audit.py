"""``twinline audit``: verify a service's audit trail straight from its database."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.common.audit import chain_length, verify_chain
from services.common.database import create_database_engine, read_session
from services.common.settings import Settings
from services.processes import SERVICES

audit_app = typer.Typer(help="Check the audit trails.", no_args_is_help=True)
console = Console()


@audit_app.command("verify")
def verify(
    site: Annotated[str | None, typer.Option(help="Site id; default: TWINLINE_SITE.")] = None,
    service: Annotated[
        str, typer.Option(help=f"Whose trail: one of {', '.join(SERVICES)}.")
    ] = "batch_records",
) -> None:
    """Recompute every entry's hash and link; exit 1 at the first broken one."""
    if service not in SERVICES:
        console.print(f"[red]unknown service {service!r}; known: {', '.join(SERVICES)}[/red]")
        raise typer.Exit(2)
    settings = Settings(site=site) if site else Settings()
    engine = create_database_engine(settings.database_url_for(service))
    try:
        with read_session(engine) as session, Progress(
            TextColumn("verifying {task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        ) as progress:
            task = progress.add_task(
                f"{service} at {settings.site}", total=chain_length(session)
            )
            result = verify_chain(
                session, on_progress=lambda read: progress.update(task, completed=read)
            )
    finally:
        engine.dispose()
    if result.intact:
        console.print(
            f"[green]✓[/green] {service} at {settings.site}: {result.entries_checked} entries, "
            "chain intact"
        )
        return
    console.print(
        f"[red]✗[/red] {service} at {settings.site}: entry {result.first_broken_sequence} "
        f"does not verify: {result.problem} ({result.entries_checked} entries read)"
    )
    raise typer.Exit(1)
