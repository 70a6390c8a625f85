"""The OPC UA bridge's adapters on their real parts: the buffer on a SQLite file, and the
bridge process refusing a configuration or nodes that asyncua's server does not know."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.conjugation.opcua_bridge.buffer import Buffer
from services.conjugation.opcua_bridge.points import Point, PointQuality
from tests.support.nats_harness import free_port
from tests.support.opcua import BridgeProcess, simulated_plant
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


def _point(tag: str, time_us: int, value: float = 1.0) -> Point:
    return Point(tag, time_us, value, "Cel", PointQuality.GOOD)


def test_the_buffer_holds_each_point_once_in_arrival_order_across_a_reopen(
    tmp_path: Path
) -> None:
    path = tmp_path / "buffer" / "bridge.db"
    with Buffer(path) as buffer:
        assert buffer.add([_point("A", 2), _point("B", 1), _point("A", 1)]) == 3
        assert buffer.add([_point("A", 2, 9.0), _point("A", 3)]) == 1  # A@2 held already
    with Buffer(path) as reopened:
        held = reopened.oldest(10)
        assert [(p.tag, p.time_us, p.value) for _, p in held] == [
            ("A", 2, 1.0), ("B", 1, 1.0), ("A", 1, 1.0), ("A", 3, 1.0)]
        assert [p.tag for _, p in reopened.oldest(2)] == ["A", "B"]


def test_acknowledged_points_leave_and_refused_ones_are_kept_with_the_reason(
    tmp_path: Path
) -> None:
    with Buffer(tmp_path / "bridge.db") as buffer:
        buffer.add([_point("A", time) for time in range(1_200)])
        ids = [identifier for identifier, _ in buffer.oldest(2_000)]
        buffer.acknowledge(ids[:1_000])  # more ids than one statement binds
        buffer.refuse(ids[1_000:1_003], "FAILED_PRECONDITION: tag A is not declared")
        assert buffer.pending_count() == 197
        assert [p.time_us for _, p in buffer.oldest(1)] == [1_003]
        refused = buffer.refused()
        assert [(p.time_us, reason) for p, reason in refused] == [
            (time, "FAILED_PRECONDITION: tag A is not declared") for time in (1_000, 1_001, 1_002)]
        # A refused point that arrives again is held again: the refusal was of that call.
        assert buffer.add([_point("A", 1_000)]) == 1


async def test_the_bridge_refuses_a_bad_file_naming_each_field_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text('run = "SYR-CR-1"\n[opcua]\nendpoint = "http://plc"\n')
    bridge = BridgeProcess(config, "secret", tmp_path / "bridge.log")
    bridge.start()
    assert await wait_until(lambda: bridge.returncode is not None, 60) and bridge.returncode == 2
    log = bridge.log()
    for field in ("run:", "buffer:", "opcua.endpoint:", "service:", "node:"):
        assert field in log, log


async def test_the_bridge_exits_2_naming_the_nodes_the_server_does_not_know(
    tmp_path: Path
) -> None:
    first = {"R201.TT01": (20.0, datetime.now(UTC))}
    async with simulated_plant(["R201.TT01"], first) as plant:
        config = tmp_path / "bridge.toml"
        config.write_text(
            f'run = "conjugationRuns/SYR-CR-000001"\nbuffer = "{tmp_path / "b.db"}"\n'
            f'[opcua]\nendpoint = "{plant.endpoint}"\n'
            f'[service]\naddress = "127.0.0.1:{free_port()}"\nusername = "syracuse.mes"\n'
            f'[[node]]\nnode_id = "{plant.node_id("R201.TT01")}"\ntag = "R201.TT01"\n'
            'unit = "Cel"\n'
            f'[[node]]\nnode_id = "{plant.node_id("R201.TT99")}"\ntag = "R201.TT99"\n'
            'unit = "Cel"\n'
        )
        bridge = BridgeProcess(config, "secret", tmp_path / "bridge.log")
        bridge.start()
        await wait_until(lambda: bridge.returncode is not None, 60,
                         message="the bridge exited")
        assert bridge.returncode == 2, bridge.log()
        assert f"{plant.node_id('R201.TT99')} (BadNodeIdUnknown)" in bridge.log()
        assert plant.node_id("R201.TT01") + " (" not in bridge.log()
