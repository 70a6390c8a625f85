"""``twinline run``: a conjugation run of either site — its phase, inputs, charges, phase
parameters, results and the latest reading of each tag (from the site view), and its process
readings as a table with a sparkline per tag (from the run's home site).

    twinline run show SYR-CR-000001
    twinline run readings SYR-CR-000001 --last 20
    twinline run readings SYR-CR-000001 --tag R201.TT01 --since 30m --output json

Exit codes: 0 done, 1 the service refused (e.g. NOT_FOUND), 2 bad arguments (e.g. the
readings of another site's run: they are kept at its home site), 4 a service does not answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from twinline.common.v1 import quantity_pb2
from twinline.conjugation.v1 import readings_pb2 as readings
from twinline.conjugation.v1 import run_pb2 as pb
from twinline.conjugation.v1.readings_pb2_grpc import ProcessReadingsServiceStub
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.cli.charts import sparkline
from services.cli.common import (
    CALL_TIMEOUT_S,
    AddressOption,
    Exit,
    OutputOption,
    SiteOption,
    Target,
    UserOption,
    as_dict,
    at_home,
    checked_output,
    console,
    fail,
    print_json,
    utc,
)
from services.client.session import Session
from services.devstack.topology import CONJUGATION, SITE_VIEW

run_app = typer.Typer(help="Conjugation runs of both sites and their readings.",
                      no_args_is_help=True)

RunArgument = Annotated[str, typer.Argument(help="Run id (SYR-CR-000001) or name.")]
RELATIVE = re.compile(r"^(\d+)([smhd])$")
SECONDS_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def run_name(run: str) -> str:
    return run if run.startswith("conjugationRuns/") else f"conjugationRuns/{run}"


def quantity(value: quantity_pb2.Quantity) -> str:
    return f"{value.value} {value.unit}".strip() if value.value else "—"


def _words(enum_name: str, prefix: str) -> str:
    """An enum value's name as a person writes it: CHARGE_KIND_REDUCING_AGENT → reducing agent."""
    return enum_name.removeprefix(prefix).lower().replace("_", " ")


def phase(value: pb.Phase.ValueType) -> str:
    return _words(pb.Phase.Name(value), "PHASE_")


@run_app.command("show")
def show(run: RunArgument, site: SiteOption = None, user: UserOption = None,
         address: AddressOption = None, output: OutputOption = "text") -> None:
    """A run of either site as this site's view holds it: phase, inputs, charges, phase
    parameters against their limits, results against their ranges, latest readings."""
    checked_output(output)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> view.GetRunResponse:
        answer: view.GetRunResponse = await session.stub(SiteViewServiceStub).GetRun(
            view.GetRunRequest(name=run_name(run)), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S)
        return answer

    found = target.run(work)
    if output == "json":
        print_json(as_dict(found))
        return
    shown = found.run
    inputs = shown.inputs
    console.print(f"{shown.run_id} · {found.home_site} · {shown.product} · batch "
                  f"{shown.batch.removeprefix('batches/')} · phase {phase(shown.phase)}",
                  soft_wrap=True, highlight=False, markup=False)
    console.print(f"  created {utc(shown.create_time)} by {shown.created_by}; updated "
                  f"{utc(shown.update_time)}", soft_wrap=True, highlight=False, markup=False)
    console.print(
        f"  antibody {inputs.antibody_lot}: {quantity(inputs.antibody_concentration)} x "
        f"{quantity(inputs.antibody_volume)}; {inputs.reducing_agent} "
        f"{inputs.reducing_agent_equivalents} eq ({inputs.reducing_agent_lot}); "
        f"{inputs.drug_linker} {inputs.drug_linker_equivalents} eq ({inputs.drug_linker_lot}, "
        f"{pb.CoSolvent.Name(inputs.co_solvent).removeprefix('CO_SOLVENT_')} ≤ "
        f"{inputs.max_co_solvent_percent} %); {inputs.quench_agent} "
        f"{inputs.quench_equivalents} eq ({inputs.quench_lot})",
        soft_wrap=True, highlight=False, markup=False)
    if shown.charges:
        console.print(f"Charges (tolerance ± {shown.charge_tolerance_percent} %)")
    for charge in shown.charges:
        judged = "within tolerance" if charge.within_tolerance else "[red]OUT OF TOLERANCE[/red]"
        console.print(
            f"  {_words(pb.ChargeKind.Name(charge.kind), 'CHARGE_KIND_')}: "
            f"{escape(quantity(charge.actual))} against {escape(quantity(charge.computed))} "
            f"({charge.deviation_percent} %, {judged}) · lot {escape(charge.lot_id)} · "
            f"{escape(charge.recorded_by)}, {utc(charge.record_time)}", soft_wrap=True,
            highlight=False)
    if shown.phases:
        console.print("Phases")
    for record in shown.phases:
        ended = utc(record.end_time) if record.HasField("end_time") else "running"
        console.print(f"  {phase(record.phase)}: {utc(record.start_time)} → {ended}",
                      soft_wrap=True, highlight=False, markup=False)
        for parameter in record.parameters:
            console.print(
                f"      {escape(parameter.name)} {escape(quantity(parameter.value))} (limits "
                f"{escape(_limits(parameter.limits.low, parameter.limits.high))} "
                f"{escape(parameter.limits.unit)}): "
                f"{'in limits' if parameter.within_limits else '[red]OUT OF LIMITS[/red]'}",
                soft_wrap=True, highlight=False)
    if shown.HasField("results"):
        ranges = {a.attribute: a for a in shown.acceptance}
        console.print(f"Results ({shown.results.recorded_by}, {utc(shown.results.record_time)})",
                      soft_wrap=True, highlight=False, markup=False)
        for value in shown.results.values:
            limits = ranges.get(value.attribute)
            console.print(
                f"  {_words(pb.Attribute.Name(value.attribute), 'ATTRIBUTE_')}: "
                f"{escape(quantity(value.value))} (range "
                f"{escape(_limits(limits.low, limits.high)) if limits else '—'}): "
                f"{'in range' if value.within_range else '[red]OUT OF RANGE[/red]'}",
                soft_wrap=True, highlight=False)
    if not found.latest_readings:
        console.print("no reading of this run has reached this site's view")
        return
    table = Table(title="Latest readings")
    table.add_column("tag", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("time", no_wrap=True)
    for latest in found.latest_readings:
        table.add_row(escape(latest.tag), f"{latest.value:g}", escape(latest.unit),
                      utc(latest.time))
    console.print(table)


@dataclass
class TagReadings:
    """A tag as declared, and its points in the window asked for, earliest first."""

    tag: readings.Tag
    points: list[tuple[int, float]]


@run_app.command("readings")
def readings_of(
    run: RunArgument,
    last: Annotated[int, typer.Option("--last", min=1, help="The last N points of each tag.")]
    = 10,
    since: Annotated[str | None, typer.Option(
        "--since", help="From this UTC time (2026-12-03T10:00:00Z) or this long ago (30m, "
        "2h, 1d).")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only this tag, e.g. R201.TT01.")]
    = None,
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """A run's readings at its home site: per tag the last points (time UTC, value, unit,
    limits, alarm), a sparkline, and the excursions."""
    checked_output(output)
    start = _since(since) if since is not None else None
    target = Target(site, user, address, CONJUGATION.name)
    at_home(target, run_name(run), "read (its readings are kept there)")

    async def work(session: Session) -> tuple[list[TagReadings], list[readings.Excursion]]:
        stub = session.stub(ProcessReadingsServiceStub)
        tags = (await stub.ListTags(readings.ListTagsRequest(run=run_name(run)),
                                    metadata=session.metadata, timeout=CALL_TIMEOUT_S)).tags
        chosen = [t for t in tags if tag is None or t.tag == tag]
        found = []
        for declared in chosen:
            request = readings.ReadReadingsRequest(run=run_name(run), tag=declared.tag)
            if start is not None:
                request.start_time.FromDatetime(start)
            points: list[tuple[int, float]] = []
            async for page in stub.ReadReadings(request, metadata=session.metadata,
                                                timeout=CALL_TIMEOUT_S):
                points.extend(zip(page.time_us, page.values, strict=True))
            found.append(TagReadings(declared, points[-last:]))
        excursions = (await stub.ListExcursions(
            readings.ListExcursionsRequest(run=run_name(run)), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S)).excursions
        return found, [e for e in excursions if (tag is None or e.tag == tag)
                       and (start is None or not e.HasField("end_time")
                            or e.end_time.ToDatetime(UTC) >= start)]

    found, excursions = target.run(work)
    if tag is not None and not found:
        fail(f"{run_name(run).removeprefix('conjugationRuns/')} has no tag {tag}", Exit.REFUSED)
    if output == "json":
        print_json({"run": run_name(run), "tags": [_tag_json(f) for f in found],
                    "excursions": [as_dict(e) for e in excursions]})
        return
    if not found:
        console.print(f"{run_name(run).removeprefix('conjugationRuns/')} has no tags declared")
        return
    table = Table(title=f"Readings of {run_name(run).removeprefix('conjugationRuns/')}")
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("tag", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("limits", no_wrap=True)
    table.add_column("alarm", no_wrap=True)
    for each in found:
        limits = _tag_limits(each.tag)
        for time_us, value in each.points:
            alarm = _alarm(each.tag, value)
            table.add_row(_time(time_us), escape(each.tag.tag), f"{value:g}",
                          escape(each.tag.unit), limits,
                          f"[red]{alarm.upper()}[/red]" if alarm else "")
    console.print(table)
    for each in found:
        values = [value for _, value in each.points]
        span = f"{min(values):g} to {max(values):g} {each.tag.unit}" if values else "no points"
        console.print(f"{each.tag.tag} {sparkline(values)} {span}", soft_wrap=True,
                      highlight=False, markup=False)
    if excursions:
        console.print(f"Excursions ({len(excursions)})")
    for excursion in excursions:
        ended = utc(excursion.end_time) if excursion.HasField("end_time") else "[red]ongoing[/red]"
        console.print(f"  {escape(excursion.tag)}: {utc(excursion.start_time)} → {ended}, "
                      f"extreme {excursion.extreme_value:g} {escape(excursion.unit)}",
                      soft_wrap=True,
                      highlight=False)


def _since(text: str) -> datetime:
    relative = RELATIVE.match(text)
    if relative:
        return datetime.now(UTC) - timedelta(
            seconds=int(relative.group(1)) * SECONDS_PER[relative.group(2)])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("a UTC time (2026-12-03T10:00:00Z) or 30m, 2h, 1d",
                                 param_hint="--since") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time(time_us: int) -> str:
    return datetime.fromtimestamp(time_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _limits(low: str, high: str) -> str:
    return f"{low or '—'} to {high or '—'}"


def _tag_limits(tag: readings.Tag) -> str:
    low = f"{tag.low_limit:g}" if tag.HasField("low_limit") else ""
    high = f"{tag.high_limit:g}" if tag.HasField("high_limit") else ""
    return _limits(low, high) if low or high else "none"


def _alarm(tag: readings.Tag, value: float) -> str:
    """"high" or "low" for a point outside the tag's limits (an excursion once it dwells)."""
    if tag.HasField("high_limit") and value > tag.high_limit:
        return "high"
    if tag.HasField("low_limit") and value < tag.low_limit:
        return "low"
    return ""


def _tag_json(found: TagReadings) -> dict[str, Any]:
    return {**as_dict(found.tag), "points": [
        {"time": datetime.fromtimestamp(time_us / 1e6, UTC).isoformat(), "value": value,
         "unit": found.tag.unit, "alarm": _alarm(found.tag, value)}
        for time_us, value in found.points]}
