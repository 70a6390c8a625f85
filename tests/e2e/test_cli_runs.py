"""``twinline run show|readings`` against real batch_records, conjugation and site view
services at both sites: Syracuse's run as Songdo's view shows it, and its readings read at
Syracuse, as text and as JSON."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from twinline.conjugation.v1 import run_pb2 as pb
from typer.testing import CliRunner, Result

from services.cli.app import app
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS, CONJUGATION, SITE_VIEW
from tests.support import runs
from tests.support.nats_harness import NatsSites
from tests.support.stack import Stack, write_default_registry
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]
TAG = "R201.TT01"
# A UCUM unit in square brackets: printed as is, never taken for terminal markup.
PH_TAG = "R201.PH01"
# Six points a second apart, ten minutes ago: 31 °C is above the 30 °C limit.
VALUES = (25.0, 25.5, 26.0, 31.0, 27.0, 26.5)


@dataclass
class Floor:
    stack: Stack
    run: pb.Run


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def floor(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Floor]:
    """One stack for the module: a Syracuse run in purification with a tag and its points."""
    base = tmp_path_factory.mktemp("cli-runs")
    registry = write_default_registry(base / "sites.toml")
    stack = Stack(base, registry, NatsSites(base / "nats", registry),
                  (BATCH_RECORDS.name, SITE_VIEW.name, CONJUGATION.name))
    try:
        await stack.start()
        batch = await runs.batch_in_progress(stack)
        run = await runs.through_purification(stack, await runs.create_run(stack, batch))
        await runs.declare_tag(stack, run, TAG, low=20, high=30)
        start_us = int((time.time() - 600) * 1e6)
        await runs.stream_points(stack, run, TAG, [
            (start_us + index * 1_000_000, value) for index, value in enumerate(VALUES)])
        await runs.declare_tag(stack, run, PH_TAG, unit="[pH]", low=6.5, high=7.5)
        await runs.stream_points(stack, run, PH_TAG, [(start_us, 7.1)], unit="[pH]")
        yield Floor(stack, run)
    finally:
        await stack.close()


async def twinline(stack: Stack, site: str, service: str, *args: str) -> Result:
    """``twinline <args>`` as ``site``'s QA at its ``service``, the password typed."""
    command = [*args, "--site", site, "--user", f"{site}.qa",
               "--address", stack.address(site, service)]
    return await asyncio.to_thread(
        CliRunner().invoke, app, command, input=f"{demo_password('qa')}\n",
        env={"TWINLINE_SITES_FILE": str(stack.registry_file)})


def document(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


async def test_songdo_shows_a_syracuse_run_with_its_latest_reading(floor: Floor) -> None:
    run_id = floor.run.run_id

    async def with_reading() -> Result | None:
        shown = await twinline(floor.stack, "songdo", SITE_VIEW.name, "run", "show", run_id)
        found = shown.exit_code == 0 and TAG in shown.output and PH_TAG in shown.output
        return shown if found else None

    shown = await wait_until(with_reading, 90, interval=0.5,
                             message="Songdo's view never showed the run's latest reading")
    assert f"{run_id} · syracuse · TWX-101" in shown.output
    assert "phase purification" in shown.output
    assert "reducing agent: 14.667 mL against 14.667 mL" in shown.output
    assert "temperature 25 Cel (limits" in shown.output and "in limits" in shown.output
    assert "26.5" in shown.output and "Cel" in shown.output  # the newest point, with its unit
    assert any(PH_TAG in line and "[pH]" in line for line in shown.output.splitlines())
    assert "…" not in shown.output  # CliRunner's console is 80 columns wide

    as_json = document(await twinline(floor.stack, "songdo", SITE_VIEW.name, "run", "show",
                                      run_id, "--output", "json"))
    assert as_json["home_site"] == "syracuse"
    assert as_json["run"]["phase"] == "PHASE_PURIFICATION"  # type: ignore[index]
    assert [(r["tag"], r["value"], r["unit"]) for r in as_json["latest_readings"]] == [  # type: ignore[attr-defined]
        (PH_TAG, 7.1, "[pH]"), (TAG, 26.5, "Cel")]

    unknown = await twinline(floor.stack, "songdo", SITE_VIEW.name, "run", "show",
                             "SYR-CR-999999")
    assert unknown.exit_code == 1
    assert "NOT_FOUND" in unknown.output


async def test_readings_are_a_table_with_limits_alarms_a_sparkline_and_excursions(
    floor: Floor,
) -> None:
    run_id = floor.run.run_id
    shown = await twinline(floor.stack, "syracuse", CONJUGATION.name, "run", "readings", run_id,
                           "--last", "4", "--since", "1h")
    assert shown.exit_code == 0, shown.output
    assert "…" not in shown.output
    rows = [line for line in shown.output.splitlines() if TAG in line and "UTC" not in line
            and "▁" not in line and "→" not in line]
    assert len(rows) == 4  # the last four points
    assert "25.5" not in shown.output  # the second point is not among the last four
    assert any("31" in row and "HIGH" in row and "20 to 30" in row for row in rows)
    assert f"{TAG} ▁█▂▂ 26 to 31 Cel" in shown.output
    assert "Excursions (1)" in shown.output
    assert f"{PH_TAG} ▄ 7.1 to 7.1 [pH]" in shown.output
    assert any(PH_TAG in line and "[pH]" in line and "6.5 to 7.5" in line
               for line in shown.output.splitlines())

    as_json = document(await twinline(floor.stack, "syracuse", CONJUGATION.name, "run",
                                      "readings", run_id, "--output", "json"))
    tag = next(t for t in as_json["tags"] if t["tag"] == TAG)  # type: ignore[attr-defined]
    assert (tag["tag"], tag["unit"], tag["high_limit"]) == (TAG, "Cel", 30.0)
    assert [(p["value"], p["alarm"]) for p in tag["points"]] == [
        (value, "high" if value > 30 else "") for value in VALUES]
    assert tag["points"][0]["time"].endswith("+00:00")
    assert as_json["excursions"][0]["extreme_value"] == 31.0  # type: ignore[index]

    nothing_since = await twinline(floor.stack, "syracuse", CONJUGATION.name, "run", "readings",
                                   run_id, "--since", "1m")
    assert nothing_since.exit_code == 0, nothing_since.output
    assert "no points" in nothing_since.output
    assert "Excursions" not in nothing_since.output  # it ended before the window


async def test_bad_arguments_and_another_sites_run_send_nothing(floor: Floor) -> None:
    run_id = floor.run.run_id
    bad_since = await twinline(floor.stack, "syracuse", CONJUGATION.name, "run", "readings",
                               run_id, "--since", "yesterday")
    assert bad_since.exit_code == 2
    assert "--since" in bad_since.output
    bad_output = await twinline(floor.stack, "syracuse", CONJUGATION.name, "run", "show",
                                run_id, "--output", "yaml")
    assert bad_output.exit_code == 2
    elsewhere = await twinline(floor.stack, "songdo", CONJUGATION.name, "run", "readings",
                               run_id)
    assert elsewhere.exit_code == 2, elsewhere.output
    assert "--site syracuse" in elsewhere.output and "nothing was sent" in elsewhere.output
