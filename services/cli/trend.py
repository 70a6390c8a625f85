"""``twinline trend PRODUCT ATTRIBUTE``: the control chart of a result attribute over the runs
of every site (GetTrend of a site's conjugation service), written as PNG and summed up in the
terminal: limits, a sparkline and the points that break a rule.

Exit codes: 0 the chart was written; 1 the service refused (its reason, each bad field and
unmet condition shown) or the PNG could not be written; 2 bad arguments (an unknown
attribute, typer's usage errors); 4 the service does not answer.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.table import Table
from twinline.conjugation.v1 import run_pb2 as pb
from twinline.conjugation.v1 import run_service_pb2 as api
from twinline.conjugation.v1.run_service_pb2_grpc import ConjugationRunServiceStub

from services.cli.charts import control_chart_png, decimal_text, sparkline
from services.cli.common import SiteOption, Target, UserOption, fail
from services.client.session import Session
from services.devstack.topology import CONJUGATION

console = Console()
CALL_TIMEOUT_S = 30.0
# The proto's Attribute enum by its plain names: "average_dar", ..., "yield".
ATTRIBUTES: dict[str, pb.Attribute.ValueType] = {
    name.removeprefix("ATTRIBUTE_").lower(): number
    for name, number in pb.Attribute.items() if number != pb.ATTRIBUTE_UNSPECIFIED
}


AddressOption = Annotated[
    str | None,
    typer.Option("--address", help=f"The {CONJUGATION.name} service's gRPC address; default: "
                 "its port at the site."),
]


class Rules(StrEnum):
    western_electric = "western-electric"
    nelson = "nelson"


RULE_SETS = {
    Rules.western_electric: (api.RULE_SET_WESTERN_ELECTRIC, "Western Electric"),
    Rules.nelson: (api.RULE_SET_NELSON, "Nelson"),
}


class Output(StrEnum):
    text = "text"
    json = "json"


def trend(
    product: Annotated[str, typer.Argument(help="The product, e.g. TWX-101.")],
    attribute: Annotated[str, typer.Argument(
        help=f"The result attribute: {', '.join(ATTRIBUTES)}."
    )],
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="The PNG to write; default: trend-PRODUCT-ATTRIBUTE.png."
    )] = None,
    rules: Annotated[Rules, typer.Option(
        "--rules", help="The rule set the points are judged by."
    )] = Rules.western_electric,
    baseline: Annotated[int | None, typer.Option(
        "--baseline", help="The first N points set the limits (default: the service's, 20)."
    )] = None,
    output: Annotated[Output, typer.Option(
        "--output", help="text for people, json for scripts."
    )] = Output.text,
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
) -> None:
    """The control chart of a product's result attribute over both sites' runs, as PNG."""
    number = ATTRIBUTES.get(attribute.lower())
    if number is None:
        fail(f"unknown attribute {attribute!r}; known: {', '.join(ATTRIBUTES)}", code=2)
    rule_set, rule_set_name = RULE_SETS[rules]
    target = Target(site, user, address, CONJUGATION.name)
    request = api.GetTrendRequest(
        product=product, attribute=number, rule_set=rule_set, baseline_points=baseline or 0,
    )

    async def work(session: Session) -> api.GetTrendResponse:
        answer: api.GetTrendResponse = await session.stub(ConjugationRunServiceStub).GetTrend(
            request, metadata=session.metadata, timeout=CALL_TIMEOUT_S
        )
        return answer

    found = target.run(work)
    name = attribute.lower()
    path = out or Path(f"trend-{product}-{name}.png")
    png = control_chart_png(found, title=f"{product} · {name} · {rule_set_name} rules")
    try:
        path.write_bytes(png)
    except OSError as error:
        fail(f"could not write the chart to {path}: {error.strerror}")
    if output is Output.json:
        document = MessageToDict(found, preserving_proto_field_name=True)
        document.update(product=product, attribute=name, rule_set=rules.value, png=str(path))
        typer.echo(json.dumps(document, indent=2))
        return
    _print(found, f"{product} {name}", rule_set_name, target.site, path)


def _print(found: api.GetTrendResponse, subject: str, rule_set: str, site: str,
           path: Path) -> None:
    unit = f" {found.unit}" if found.unit else ""
    console.print(
        f"{subject}: {len(found.points)} points (asked at {site}), {rule_set} rules",
        soft_wrap=True, highlight=False,
    )
    if found.center:
        console.print(
            f"centre {decimal_text(found.center)}{unit} · "
            f"UCL {decimal_text(found.upper_control_limit)}{unit} · "
            f"LCL {decimal_text(found.lower_control_limit)}{unit} · "
            f"sigma {decimal_text(found.sigma)}{unit}",
            soft_wrap=True, highlight=False,
        )
    else:
        console.print("fewer than two points: no control limits yet", highlight=False)
    if found.points:
        console.print(sparkline([float(point.value) for point in found.points]),
                      highlight=False)
    console.print(f"chart: {path}", soft_wrap=True, highlight=False)
    broken = [point for point in found.points if point.rules]
    if not broken:
        console.print("no point breaks a rule", highlight=False)
        return
    table = Table(title=f"Points that break a rule ({len(broken)})")
    table.add_column("site", no_wrap=True)
    table.add_column("batch", no_wrap=True)
    table.add_column("value", no_wrap=True, justify="right")
    table.add_column("rules", overflow="fold")
    for point in broken:
        table.add_row(point.site, point.batch.removeprefix("batches/"),
                      f"{point.value}{unit}", ", ".join(point.rules))
    console.print(table)
