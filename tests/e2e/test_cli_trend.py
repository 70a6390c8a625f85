"""``twinline trend``: the control chart of TWX-101's yield over both sites' runs, from the
terminal, against real batch_records and conjugation services at both sites."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from PIL import Image
from twinline.conjugation.v1 import run_pb2 as pb
from twinline.conjugation.v1 import run_service_pb2 as api
from typer.testing import CliRunner, Result

from services.cli.app import app
from services.cli.charts import SITE_STYLES, VIOLATION_COLOUR
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS, CONJUGATION
from tests.support import runs
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

stack = stack_fixture(services=[BATCH_RECORDS.name, CONJUGATION.name])

# Yield = protein out / 10 g in: 91, 86, 90 % set the limits (centre 89 %, sigma 4.5 / 1.128
# = 3.99 %, LCL 77.03 %); then Songdo's 50 % is far below them (WE1).
RESULTS = (("syracuse", "9.1"), ("songdo", "8.6"), ("syracuse", "9.0"), ("songdo", "5.0"))
BASELINE = "3"


async def trend(stack: Stack, *args: str) -> Result:
    """``twinline trend <args>`` as syracuse.qa at Syracuse, its password typed at the prompt."""
    command = [
        "trend", *args, "--site", "syracuse", "--user", "syracuse.qa",
        "--address", stack.address("syracuse", CONJUGATION.name),
    ]
    env = {"TWINLINE_SITES_FILE": str(stack.registry_file)}
    # In a thread: the command runs its own event loop, as it does from a shell.
    return await asyncio.to_thread(
        CliRunner().invoke, app, command, input=f"{demo_password('qa')}\n", env=env
    )


async def _runs_in_purification(stack: Stack, site: str, count: int) -> list[pb.Run]:
    made = []
    for _ in range(count):
        batch = await runs.batch_in_progress(stack, site)
        made.append(await runs.through_purification(
            stack, await runs.create_run(stack, batch, site), site
        ))
    return made


async def _four_results_at_both_sites(stack: Stack) -> None:
    """The runs made at both sites at once; their results recorded in RESULTS' order (the
    order of the chart) and seen by Syracuse."""
    syracuse, songdo = await asyncio.gather(
        _runs_in_purification(stack, "syracuse", 2), _runs_in_purification(stack, "songdo", 2)
    )
    waiting = {"syracuse": iter(syracuse), "songdo": iter(songdo)}
    for site, protein_out in RESULTS:
        await runs.record_results(stack, next(waiting[site]), protein_out, site)
    qa = await stack.login("syracuse", "qa", CONJUGATION.name)

    async def all_charted() -> bool:
        answer = await runs.stub(qa).GetTrend(api.GetTrendRequest(
            product="TWX-101", attribute=pb.ATTRIBUTE_YIELD
        ), metadata=qa.metadata)
        return len(answer.points) == len(RESULTS)

    await wait_until(all_charted, runs.PROJECTION_DEADLINE_S, interval=0.2,
                     message="Syracuse never charted Songdo's runs")


def _colours(path: Path) -> set[tuple[int, int, int]]:
    image = Image.open(io.BytesIO(path.read_bytes())).convert("RGB")
    assert image.size == (1200, 600)
    return {colour for _, colour in image.getcolors(maxcolors=image.width * image.height)}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


async def test_the_trend_of_both_sites_is_charted_with_its_broken_rule(
    stack: Stack, tmp_path: Path
) -> None:
    await _four_results_at_both_sites(stack)

    chart = tmp_path / "yield.png"
    shown = await trend(stack, "TWX-101", "yield", "--baseline", BASELINE, "--out", str(chart))
    assert shown.exit_code == 0, shown.output
    assert "TWX-101 yield: 4 points" in shown.output
    assert "centre 89 % · UCL 100.9681 % · LCL 77.0319 % · sigma 3.9894 %" in shown.output
    assert "█▇█▁" in shown.output
    assert "Points that break a rule (1)" in shown.output
    assert "songdo" in shown.output and "50.0 %" in shown.output and "WE1" in shown.output
    assert "…" not in shown.output  # CliRunner's console is 80 columns wide
    colours = _colours(chart)
    assert {_rgb(SITE_STYLES["syracuse"][0]), _rgb(SITE_STYLES["songdo"][0]),
            _rgb(VIOLATION_COLOUR)} <= colours

    as_json = await trend(stack, "TWX-101", "yield", "--baseline", BASELINE, "--rules", "nelson",
                          "--out", str(tmp_path / "nelson.png"), "--output", "json")
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout[as_json.stdout.index("{"):])
    assert document["png"] == str(tmp_path / "nelson.png")
    assert (tmp_path / "nelson.png").read_bytes().startswith(b"\x89PNG")
    assert (document["center"], document["unit"], document["rule_set"]) == ("89.0", "%", "nelson")
    assert [(point["site"], point["value"], point.get("rules", []))
            for point in document["points"]] == [
        ("syracuse", "91.0", []), ("songdo", "86.0", []), ("syracuse", "90.0", []),
        ("songdo", "50.0", ["N1"]),
    ]

    refused = await trend(stack, "TWX-101", "yield", "--baseline", "1",
                          "--out", str(tmp_path / "refused.png"))
    assert refused.exit_code == 1, refused.output
    assert "INVALID_ARGUMENT" in refused.output
    assert "baseline_points: must be 2" in refused.output
    assert not (tmp_path / "refused.png").exists()


def test_an_unknown_attribute_is_refused_with_the_known_ones() -> None:
    """Before any login: no server is needed to know the names."""
    unknown = CliRunner().invoke(app, ["trend", "TWX-101", "purity"])
    assert unknown.exit_code == 2, unknown.output
    assert "unknown attribute 'purity'; known: average_dar, free_drug_linker, monomer, hmw, " \
        "concentration, endotoxin, yield" in unknown.output
