"""Replay end to end: records and batches made at both sites, Syracuse's live view holding
them, then ``twinline view rebuild`` run as an operator would (its own process, against
Syracuse's nats-server) into a fresh file: the rebuilt view has the live view's checksum."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub
from typer.testing import CliRunner

from services.cli.app import app
from services.client.session import Session
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW
from tests.support import batches
from tests.support.batches import effective_master, s1
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(240)

stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name])
CONVERGE = 30.0
REBUILD_WITHIN_S = 120.0
# The live view is quiet once its checksum holds this long (heartbeats change no replica row).
QUIET_S = 1.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]


async def live_checksum(session: Session) -> view.GetViewChecksumResponse:
    answer: view.GetViewChecksumResponse = await session.stub(SiteViewServiceStub).GetViewChecksum(
        view.GetViewChecksumRequest(), metadata=session.metadata
    )
    return answer


async def batch_names(session: Session) -> set[str]:
    answer = await session.stub(SiteViewServiceStub).ListBatches(
        view.ListBatchesRequest(page_size=500), metadata=session.metadata
    )
    return {batch.name for batch in answer.batches}


async def quiet_checksum(session: Session) -> str:
    """The live view's checksum once it stops changing."""
    async def held() -> str | None:
        first = (await live_checksum(session)).sha256
        await asyncio.sleep(QUIET_S)
        return first if (await live_checksum(session)).sha256 == first else None

    found: str = await wait_until(held, CONVERGE, message="the live view went quiet")
    return found


async def rebuild(stack: Stack, database: Path, *options: str) -> tuple[int, str]:
    """``twinline view rebuild`` in its own process: its exit code and its output."""
    env = {**os.environ, **stack.env("syracuse"), "COLUMNS": "100"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.app", "view", "rebuild", "--site", "syracuse",
        "--database", str(database), *options, cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), REBUILD_WITHIN_S)
    except TimeoutError:
        process.kill()
        raise
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_a_view_rebuilt_from_the_stream_has_the_live_views_checksum(
    stack: Stack, tmp_path: Path
) -> None:
    made = []
    for site in ("syracuse", "songdo"):
        master = await effective_master(stack, site)
        mes = await stack.login(site, "mes")
        operator = await stack.login(site, "operator")
        for _ in range(2):
            batch = await batches.create_batch(mes, master)
            await batches.record(operator, batch, s1())
            made.append(batch.name)
    live = await stack.login("syracuse", "qa", service=SITE_VIEW.name)

    async def holds_every_batch() -> bool:
        return set(made) <= await batch_names(live)

    await wait_until(holds_every_batch, CONVERGE, message="Syracuse's view holds both sites'")
    expected = await quiet_checksum(live)
    marks = await live.stub(SiteViewServiceStub).ListWatermarks(
        view.ListWatermarksRequest(), metadata=live.metadata
    )
    applied_live = sum(mark.events_applied for mark in marks.watermarks)

    code, output = await rebuild(stack, tmp_path / "rebuilt" / "site_view.db")

    assert code == 0, output
    found = re.search(r"view checksum sha256:([0-9a-f]{64})", output)
    assert found is not None, output
    assert found.group(1) == expected, output
    assert (await live_checksum(live)).sha256 == expected  # still quiet: a fair comparison
    # It showed its progress: the bar's last state, every message of the stream read.
    read = re.search(r"read (\d+) events of the stream of syracuse", output)
    assert read is not None, output
    assert re.search(rf"replaying the stream of syracuse .*{read.group(1)}/{read.group(1)} events",
                     output), output
    # As many events taken in as the live view counts (heartbeats are read, not counted).
    assert f"applied {applied_live}," in output, output
    assert applied_live > 0

    # For scripts: the same checksum as JSON, from a second rebuild and from the live view.
    second = tmp_path / "again" / "site_view.db"
    code, output = await rebuild(stack, second, "--output", "json")
    assert code == 0, output
    assert json.loads(output[output.index("{"):])["sha256"] == expected  # after the bar
    code, output = await rebuild(stack, second)
    assert code == 2 and "exists: a rebuild writes a fresh database" in output, output
    asked = await asyncio.to_thread(
        CliRunner().invoke, app,
        ["view", "checksum", "--site", "syracuse", "--user", "syracuse.qa", "--address",
         stack.address("syracuse", SITE_VIEW.name), "--output", "json"],
        input=f"{demo_password('qa')}\n", env={"TWINLINE_SITES_FILE": str(stack.registry_file)})
    assert asked.exit_code == 0, asked.output
    assert json.loads(asked.stdout)["sha256"] == expected
