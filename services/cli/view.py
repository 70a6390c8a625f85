"""``twinline view``: rebuild a site's view from its stream into a fresh database and print
its checksum (``rebuild``), or ask a running site view for its own (``checksum``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.cli.common import (
    AddressOption,
    Exit,
    OutputOption,
    SiteOption,
    Target,
    UserOption,
    as_dict,
    checked_output,
    error_console,
    fail,
    print_json,
)
from services.client.session import Session
from services.common.settings import Settings
from services.devstack.topology import SITE_VIEW
from services.site_view.replay import NotFresh, Replayed, rebuild

view_app = typer.Typer(help="The site view: rebuild it, compare checksums.", no_args_is_help=True)
console = Console()
CALL_TIMEOUT_S = 60.0


@view_app.command("rebuild")
def rebuild_view(
    database: Annotated[
        Path, typer.Option(help="The SQLite file to rebuild into; must not exist yet.")
    ],
    site: SiteOption = None,
    nats_url: Annotated[
        str | None, typer.Option(help="The site's NATS; default: TWINLINE_NATS_URL.")
    ] = None,
    output: OutputOption = "text",
) -> None:
    """Replay the site's stream from its first event into a fresh database, with the live
    view's handlers, and print the rebuilt view's checksum; exit 3 if an event failed."""
    checked_output(output)
    settings = Settings(site=site) if site else Settings()
    if database.exists():
        fail(f"{database} exists: a rebuild writes a fresh database", Exit.USAGE)
    database.parent.mkdir(parents=True, exist_ok=True)
    with Progress(
        TextColumn("replaying {task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("events"), TimeElapsedColumn(),
        console=console if output == "text" else error_console,
    ) as progress:
        task = progress.add_task(f"the stream of {settings.site}", total=None)
        try:
            replayed = asyncio.run(rebuild(
                nats_url=nats_url or settings.nats_url, site=settings.site,
                database_url=f"sqlite:///{database}",
                on_progress=lambda read, total: progress.update(
                    task, completed=read, total=total
                ),
            ))
        except NotFresh as exc:
            fail(str(exc), Exit.USAGE)
    if output == "json":
        assert replayed.checksum is not None
        print_json({
            "site": settings.site, "database": str(database), "read": replayed.read,
            "first_sequence": replayed.first_sequence, "last_sequence": replayed.last_sequence,
            "applied": replayed.applied, "undecodable": replayed.undecodable,
            "failed": list(replayed.failed), "sha256": replayed.checksum.sha256,
            "tables": [{"table": table.table, "rows": table.rows, "sha256": table.sha256}
                       for table in replayed.checksum.tables]})
    else:
        _report(replayed, settings.site, database)
    if replayed.failed:
        raise typer.Exit(Exit.CHECK_FAILED)


def _report(replayed: Replayed, site: str, database: Path) -> None:
    console.print(
        f"read {replayed.read} events of the stream of {site} (sequences "
        f"{replayed.first_sequence}..{replayed.last_sequence}), applied {replayed.applied}, "
        f"skipped {replayed.undecodable} undecodable, into {database}", soft_wrap=True
    )
    if replayed.failed:
        shown = ", ".join(map(str, replayed.failed[:10]))
        console.print(f"[red]{len(replayed.failed)} events not applied: {shown}[/red]")
    assert replayed.checksum is not None
    _print_checksum(replayed.checksum.sha256, [
        (table.table, table.rows, table.sha256) for table in replayed.checksum.tables
    ])


def _print_checksum(sha256: str, tables: list[tuple[str, int, str]]) -> None:
    for name, rows, table_sha256 in tables:
        console.print(f"  {name:<28} {rows:>8} rows  {table_sha256}", soft_wrap=True)
    console.print(f"view checksum sha256:{sha256}", soft_wrap=True)


@view_app.command("checksum")
def checksum(
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """The running site view's checksum of its replicated state (GetViewChecksum)."""
    checked_output(output)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> api.GetViewChecksumResponse:
        stub = session.stub(SiteViewServiceStub)
        answer: api.GetViewChecksumResponse = await stub.GetViewChecksum(
            api.GetViewChecksumRequest(), metadata=session.metadata, timeout=CALL_TIMEOUT_S
        )
        return answer

    found = target.run(work)
    if output == "json":
        print_json(as_dict(found))
        return
    _print_checksum(
        found.sha256, [(table.table, table.rows, table.sha256) for table in found.tables]
    )
