"""``twinline site`` against real site views: every site current while linked (exit 0), the
other site stale once the link is cut (exit 3), as text and as JSON."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner, Result

from services.cli.app import app
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name])


async def twinline_site(stack: Stack, *extra: str) -> Result:
    command = ["site", "--site", "songdo", "--user", "songdo.qa",
               "--address", stack.address("songdo", SITE_VIEW.name), *extra]
    return await asyncio.to_thread(
        CliRunner().invoke, app, command, input=f"{demo_password('qa')}\n",
        env={"TWINLINE_SITES_FILE": str(stack.registry_file)})


async def test_the_link_state_of_each_site_and_its_exit_code(stack: Stack) -> None:
    async def all_current() -> Result | None:
        result = await twinline_site(stack, "--output", "json")
        return result if result.exit_code == 0 else None

    linked = await wait_until(all_current, 60, interval=0.5,
                              message="both sites current at Songdo")
    shown = json.loads(linked.output[linked.output.index("{"):])
    assert shown["site"] == "songdo"
    assert [(row["site"], row["current"]) for row in shown["sites"]] == [
        ("songdo", True), ("syracuse", True)]

    stack.nats.proxy.cut()

    async def syracuse_stale() -> Result | None:
        result = await twinline_site(stack)
        return result if result.exit_code == 3 else None

    stale = await wait_until(syracuse_stale, 60, interval=0.5,
                             message="Syracuse stale at Songdo after the cut")
    assert "STALE" in stale.output and "syracuse" in stale.output
    stack.nats.proxy.restore()
