"""``twinline audit``: verify a service's audit trail straight from its database, against the
newest head the site's stream witnessed.

Exit codes: 0 the chain is intact, 3 an entry does not verify, 2 bad arguments.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import nats
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.cli.common import Exit, OutputOption, checked_output, error_console, print_json
from services.common.messaging.audit_anchor import ANCHOR_TIMEOUT_S, newest_witnessed
from services.common.persistence.audit import WitnessedHead, chain_length, verify_chain
from services.common.persistence.database import create_database_engine, read_session
from services.common.settings import Settings
from services.devstack.topology import BATCH_RECORDS, SERVICE_NAMES

audit_app = typer.Typer(help="Check the audit trails.", no_args_is_help=True)
console = Console()


@audit_app.command("verify")
def verify(
    site: Annotated[str | None, typer.Option(help="Site id; default: TWINLINE_SITE.")] = None,
    service: Annotated[
        str, typer.Option(help=f"Whose trail: one of {', '.join(SERVICE_NAMES)}.")
    ] = BATCH_RECORDS.name,
    output: OutputOption = "text",
) -> None:
    """Recompute every entry's hash and link; exit 3 at the first broken one."""
    checked_output(output)
    if service not in SERVICE_NAMES:
        console.print(
            f"[red]unknown service {service!r}; known: {', '.join(SERVICE_NAMES)}[/red]"
        )
        raise typer.Exit(Exit.USAGE)
    settings = Settings(site=site) if site else Settings()
    # The stream first, then the chain: what was published before is committed.
    witnessed = asyncio.run(_witnessed(settings, service))
    engine = create_database_engine(settings.database_url_for(service))
    try:
        with read_session(engine) as session, Progress(
            TextColumn("verifying {task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console if output == "text" else error_console,
            transient=True,
        ) as progress:
            task = progress.add_task(
                f"{service} at {settings.site}", total=chain_length(session)
            )
            result = verify_chain(
                session, on_progress=lambda read: progress.update(task, completed=read),
                witnessed=witnessed.head,
            )
    finally:
        engine.dispose()
    if output == "json":
        head = witnessed.head
        print_json({
            "site": settings.site, "service": service, "intact": result.intact,
            "entries_checked": result.entries_checked,
            "first_broken_sequence": result.first_broken_sequence, "problem": result.problem,
            "witnessed": None if head is None else {
                "sequence": head.sequence, "entry_hash": head.entry_hash},
            "note": witnessed.note if head is None else None})
        if not result.intact:
            raise typer.Exit(Exit.CHECK_FAILED)
        return
    if witnessed.head is not None:
        console.print(
            f"the stream witnessed seq {witnessed.head.sequence} "
            f"with hash {witnessed.head.entry_hash}"
        )
    else:
        console.print(f"[yellow]head not anchored: {witnessed.note}[/yellow]")
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
    raise typer.Exit(Exit.CHECK_FAILED)


async def _witnessed(settings: Settings, service: str) -> WitnessedHead:
    """The newest head in the site's stream; a note instead if NATS cannot be reached."""
    async def quiet(exc: Exception) -> None:
        pass  # the note below says it once

    try:
        # Bounded from outside: nats-py retries a refused first connect however it is told.
        client = await asyncio.wait_for(
            nats.connect(
                settings.nats_url, connect_timeout=ANCHOR_TIMEOUT_S, max_reconnect_attempts=0,
                allow_reconnect=False, error_cb=quiet,
            ),
            ANCHOR_TIMEOUT_S,
        )
    except Exception:
        return WitnessedHead(None, f"NATS at {settings.nats_url} not reachable")
    try:
        return await asyncio.wait_for(
            newest_witnessed(client.jetstream(), settings.site, service), ANCHOR_TIMEOUT_S
        )
    except Exception as exc:
        return WitnessedHead(None, f"the stream could not be read ({type(exc).__name__})")
    finally:
        await client.close()
