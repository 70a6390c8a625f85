"""``twinline site``: which site this is, and how current each site's picture is here — the
link state (current or stale) and the lag of every site, from the site view's watermarks.

Exit codes: 0 every site current, 3 some site stale (a cut link, a stopped origin), 1 the
service refused, 2 bad arguments, 4 the service does not answer.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.cli.common import (
    AddressOption,
    Exit,
    OutputOption,
    SiteOption,
    Target,
    UserOption,
    checked_output,
)
from services.client.session import Session
from services.devstack.topology import SITE_VIEW

console = Console()
CALL_TIMEOUT_S = 30.0


def _seconds(watermark: api.Watermark) -> float | None:
    if not watermark.HasField("lag"):
        return None
    return watermark.lag.seconds + watermark.lag.nanos / 1e9


def site(
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """This site, and the link state and lag of every site as its site view sees them."""
    checked_output(output)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> api.ListWatermarksResponse:
        answer: api.ListWatermarksResponse = await session.stub(
            SiteViewServiceStub).ListWatermarks(api.ListWatermarksRequest(),
                                                metadata=session.metadata,
                                                timeout=CALL_TIMEOUT_S)
        return answer

    marks = sorted(target.run(work).watermarks, key=lambda mark: mark.site)
    rows = [{"site": mark.site, "current": mark.current, "lag_seconds": _seconds(mark),
             "events_applied": mark.events_applied} for mark in marks]
    if output == "json":
        typer.echo(json.dumps({"site": target.site, "sites": rows}, indent=2))
    else:
        table = Table(title=f"As {target.site}'s site view sees them")
        for column in ("site", "link", "lag", "events"):
            table.add_column(column, justify="right" if column in ("lag", "events") else "left")
        for row in rows:
            lag = row["lag_seconds"]
            table.add_row(str(row["site"]), "current" if row["current"] else "STALE",
                          "-" if lag is None else f"{lag:.1f} s", str(row["events_applied"]))
        console.print(table)
    if any(not row["current"] for row in rows):
        raise typer.Exit(Exit.CHECK_FAILED)
