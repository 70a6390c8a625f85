"""``twinline outbox status``: a service's outbox backlog and whether its relay is stalled,
asked over gRPC (only the running service knows what its relay is trying)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from google.protobuf.duration_pb2 import Duration
from rich.console import Console
from rich.table import Table
from twinline.common.v1 import outbox_pb2
from twinline.common.v1.outbox_pb2_grpc import OutboxServiceStub

from services.cli.common import (
    AddressOption,
    Exit,
    OutputOption,
    SiteOption,
    Target,
    UserOption,
    as_dict,
    checked_output,
    print_json,
)
from services.client.session import Session
from services.devstack.topology import BATCH_RECORDS, SERVICE_NAMES

outbox_app = typer.Typer(help="Look at the transactional outboxes.", no_args_is_help=True)
console = Console()
CALL_TIMEOUT_S = 10.0


def _seconds(duration: Duration) -> str:
    return f"{duration.ToTimedelta() / timedelta(seconds=1):.1f} s"


@outbox_app.command("status")
def status(
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    service: Annotated[
        str, typer.Option(help=f"Whose outbox: one of {', '.join(SERVICE_NAMES)}.")
    ] = BATCH_RECORDS.name,
    output: OutputOption = "text",
) -> None:
    """Events waiting to be published, the oldest one's age, and whether the relay is stalled;
    exit 3 when it is."""
    checked_output(output)
    if service not in SERVICE_NAMES:
        console.print(
            f"[red]unknown service {service!r}; known: {', '.join(SERVICE_NAMES)}[/red]"
        )
        raise typer.Exit(Exit.USAGE)
    target = Target(site, user, address, service)

    async def work(session: Session) -> outbox_pb2.GetOutboxStatusResponse:
        stub = session.stub(OutboxServiceStub)
        answer: outbox_pb2.GetOutboxStatusResponse = await stub.GetOutboxStatus(
            outbox_pb2.GetOutboxStatusRequest(), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return answer

    found = target.run(work)
    if output == "json":
        print_json(as_dict(found))
        if found.stalled:
            raise typer.Exit(Exit.CHECK_FAILED)
        return
    table = Table(title=f"outbox of {found.service} at {found.site}", width=80)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("unpublished events", str(found.unpublished_count))
    if found.HasField("oldest_unpublished_create_time"):
        oldest = found.oldest_unpublished_create_time.ToDatetime()
        table.add_row("oldest committed", f"{oldest:%Y-%m-%d %H:%M:%S} UTC")
        table.add_row("oldest waits", _seconds(found.oldest_unpublished_age))
    relay = "[red]STALLED[/red]" if found.stalled else "[green]publishing[/green]"
    table.add_row("relay", f"{relay} (stalled after {_seconds(found.stall_threshold)})")
    if found.HasField("head_retry_duration"):
        table.add_row("trying the head for", _seconds(found.head_retry_duration))
    if found.last_error:
        table.add_row("last error", found.last_error)
    console.print(table)
    if found.stalled:
        raise typer.Exit(Exit.CHECK_FAILED)
