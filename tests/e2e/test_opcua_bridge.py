"""The OPC UA bridge end to end: asyncua's server on loopback with simulated tags, the bridge
as its own process, the real conjugation and batch_records services of a site.

The plant goes on producing while the conjugation service is killed and started again: the
bridge holds what it could not send and resends it, and the run's readings are then exactly
what the server produced, each point once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from twinline.conjugation.v1 import readings_pb2 as api
from twinline.conjugation.v1 import run_pb2 as pb

from services.conjugation.opcua_bridge.buffer import Buffer
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS, CONJUGATION
from tests.support import runs
from tests.support.opcua import BridgeProcess, SimulatedPlant, simulated_plant
from tests.support.runs import SITE
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(300)
stack = stack_fixture(services=[BATCH_RECORDS.name, CONJUGATION.name])

TAGS = {"R201.TT01": "Cel", "R201.PH01": "[pH]"}
# Mapped in the bridge's file but never declared on the run: the service refuses its points.
UNDECLARED = "R201.LT01"
CHANGES_PER_TAG = 150
# Source times an hour back, 20 ms apart: well inside what the service takes.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
DEADLINE_S = 90


def bridge_config(path: Path, plant: SimulatedPlant, stack: Stack, run: pb.Run) -> Path:
    nodes = "".join(
        f'\n[[node]]\nnode_id = "{plant.node_id(tag)}"\ntag = "{tag}"\nunit = "{unit}"\n'
        for tag, unit in {**TAGS, UNDECLARED: "%"}.items()
    )
    path.write_text(
        f'run = "{run.name}"\nbuffer = "{path.parent / "bridge-buffer.db"}"\n'
        "flush_interval_seconds = 0.2\nmax_retry_seconds = 1.0\n"
        f'\n[opcua]\nendpoint = "{plant.endpoint}"\npublishing_interval_ms = 50\n'
        f'\n[service]\naddress = "{stack.address(SITE, CONJUGATION.name)}"\n'
        f'username = "{SITE}.mes"\n{nodes}'
    )
    return path


async def stored(stack: Stack, run: pb.Run, tag: str) -> list[tuple[int, float]]:
    operator = await stack.login(SITE, "operator", CONJUGATION.name)
    pages = runs.readings_stub(operator).ReadReadings(
        api.ReadReadingsRequest(run=run.name, tag=tag), metadata=operator.metadata
    )
    return [point async for page in pages for point in zip(page.time_us, page.values, strict=True)]


async def arrived(
    condition: Callable[[], Awaitable[bool]], stack: Stack, run: pb.Run, plant: SimulatedPlant,
    bridge: BridgeProcess, what: str,
) -> None:
    """Waits for ``condition``; if it never holds, says how the readings differ and why."""
    try:
        await wait_until(condition, DEADLINE_S, interval=0.2)
    except AssertionError:
        lines = [f"{what} not stored within {DEADLINE_S} s"]
        for tag in TAGS:
            have, want = set(await stored(stack, run, tag)), set(plant.produced[tag])
            lines.append(f"{tag}: {len(have)} stored, {len(want)} produced; missing "
                         f"{sorted(want - have)[:5]}, unexpected {sorted(have - want)[:5]}")
        raise AssertionError("\n".join([*lines, "bridge log:", bridge.log()[-3000:]])) from None


async def produce(plant: SimulatedPlant, first: int, last: int) -> None:
    """Changes ``first`` to ``last - 1`` of every tag, paced like a PLC's scan."""
    for index in range(first, last):
        when = START + timedelta(milliseconds=20 * index)
        for number, tag in enumerate([*TAGS, UNDECLARED]):
            await plant.change(tag, 20.0 + number + (index % 17) / 10, when)
        await asyncio.sleep(0.01)  # pacing the producer, not waiting for a result


async def test_plant_changes_arrive_as_readings_and_none_is_lost_across_a_service_restart(
    stack: Stack, tmp_path: Path
) -> None:
    """Also: the points the service refuses (those of a tag the run does not declare) are
    kept aside with the reason, and never hold back the others."""
    batch = await runs.batch_in_progress(stack)
    run = await runs.create_run(stack, batch)
    for tag, unit in TAGS.items():
        await runs.declare_tag(stack, run, tag, unit=unit)
    firsts = {tag: (0.0, START - timedelta(seconds=1)) for tag in [*TAGS, UNDECLARED]}
    async with simulated_plant([*TAGS, UNDECLARED], firsts) as plant:
        config = bridge_config(tmp_path / "bridge.toml", plant, stack, run)
        bridge = BridgeProcess(config, demo_password("mes"), tmp_path / "bridge.log")
        bridge.start()
        try:
            async def all_arrived() -> bool:
                return all([await stored(stack, run, tag) == plant.produced[tag] for tag in TAGS])

            # A new subscription receives each node's current value: the bridge is listening.
            await arrived(all_arrived, stack, run, plant, bridge, "the current values")
            await produce(plant, 0, 30)
            await arrived(all_arrived, stack, run, plant, bridge, "the first changes")

            producing = asyncio.create_task(produce(plant, 30, CHANGES_PER_TAG))
            conjugation = stack.service(SITE, CONJUGATION.name)
            conjugation.kill()
            with Buffer(tmp_path / "bridge-buffer.db") as buffer:
                await wait_until(lambda: buffer.pending_count() >= 20, DEADLINE_S,
                                 message="the bridge holding what it cannot send")
            await conjugation.restart()
            await producing

            await arrived(all_arrived, stack, run, plant, bridge, "every change, once")
            with Buffer(tmp_path / "bridge-buffer.db") as buffer:
                await wait_until(lambda: buffer.pending_count() == 0, DEADLINE_S,
                                 message="the buffer drained")
                refused = buffer.refused()
        finally:
            assert await bridge.stop() == 0, bridge.log()[-3000:]
    for tag in TAGS:
        assert len(plant.produced[tag]) == CHANGES_PER_TAG + 1
    log = bridge.log()
    assert "is unreachable; holding" in log and "reachable again" in log, log[-3000:]
    assert sorted((point.time_us, point.value) for point, _ in refused) == plant.produced[
        UNDECLARED]
    assert all(UNDECLARED in reason and "not declared" in reason for _, reason in refused), (
        refused[0])
