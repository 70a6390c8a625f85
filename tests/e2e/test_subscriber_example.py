"""docs/examples/subscriber.py, the outside subscriber's example, run as its reader would run it:
against Syracuse's nats-server it sees both sites' events, and across its own restart (the same
durable name) every one of them exactly once."""

from __future__ import annotations

import ast
import asyncio
import json
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from services.client.session import Session
from services.common.messaging.subjects import stream_name
from services.devstack.processes import PROJECT_ROOT
from services.devstack.topology import BATCH_RECORDS
from tests.support.mbr import create
from tests.support.stack import Stack, stack_fixture
from tests.support.streams import stream_event_ids
from tests.support.waiting import wait_until

stack = stack_fixture(services=[BATCH_RECORDS.name])

EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "subscriber.py"
DURABLE = "erp_example"
SEEN = 30.0
EXIT = 20.0


class Subscriber:
    """One run of the example, writing JSON lines to `output`, its console to files beside it."""

    def __init__(self, stack: Stack, output: Path, *options: str) -> None:
        self.command = [
            sys.executable, str(EXAMPLE), stack.nats.url("syracuse"), "--site", "syracuse",
            "--durable", DURABLE, "--output", str(output), "--batch", "4", *options,
        ]
        self.output = output
        self.console = output.with_suffix(".console")
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.console.open("w") as console:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, cwd=PROJECT_ROOT, stdout=console, stderr=asyncio.subprocess.STDOUT
            )

    def events(self) -> list[dict[str, Any]]:
        if not self.output.exists():
            return []
        return [json.loads(line) for line in self.output.read_text().splitlines()]

    async def exited(self) -> str:
        """Its console, once it has ended by itself with status 0."""
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), EXIT)
        assert code == 0, self.console.read_text()
        return self.console.read_text()

    async def stop(self) -> str:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.exited()

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


async def records_at_both_sites(syracuse: Session, songdo: Session, prefix: str) -> set[str]:
    """Two new master batch records at each site (one event each); their resource names."""
    made = [await create(syracuse, f"{prefix}-SYR-{n}") for n in range(2)]
    made += [await create(songdo, f"{prefix}-SDO-{n}") for n in range(2)]
    return {record.name for record in made}


async def events_in_stream(stack: Stack, count: int) -> bool:
    return len(await stream_event_ids(await stack.nats.client("syracuse"), "syracuse")) == count


def seen(subscriber: Subscriber, names: set[str]) -> bool:
    return names <= {event["ce_subject"] for event in subscriber.events()}


async def test_the_example_follows_both_sites_exactly_once_across_its_restart(
    stack: Stack, tmp_path: Path
) -> None:
    syracuse = await stack.login("syracuse", "author")
    songdo = await stack.login("songdo", "author")
    first_names = await records_at_both_sites(syracuse, songdo, "BEFORE")

    first = Subscriber(stack, tmp_path / "first.jsonl", "--idle-seconds", "60")
    second = Subscriber(stack, tmp_path / "second.jsonl", "--idle-seconds", "3")
    try:
        await first.start()
        await wait_until(lambda: seen(first, first_names), SEEN,
                         message="the subscriber saw both sites' first records")
        console = await first.stop()
        assert "handled 4 events" in console

        later_names = await records_at_both_sites(syracuse, songdo, "AFTER")
        # All in Syracuse's stream before it runs, so that its idle stop means "no more".
        await wait_until(lambda: events_in_stream(stack, 8), SEEN,
                         message="Syracuse's stream holds both sites' later records")
        await second.start()  # the same durable name: it resumes after what it acknowledged
        console = await second.exited()  # it stops after 3 s without an event
        assert "handled 4 events" in console
    finally:
        first.kill()
        second.kill()

    client = await stack.nats.client("syracuse")
    in_stream = await stream_event_ids(client, "syracuse")
    assert len(in_stream) == 8 and max(in_stream.values()) == 1
    taken = first.events() + second.events()
    assert Counter(event["id"] for event in taken) == in_stream  # each id once, none missing
    assert {event["ce_subject"] for event in first.events()} == first_names
    assert {event["ce_subject"] for event in second.events()} == later_names
    assert Counter(event["site"] for event in taken) == {"syracuse": 4, "songdo": 4}
    # Decoded by ce-type: the payload is the record the RPC answered with.
    created = next(
        event for event in second.events()
        if event["site"] == "songdo" and event["payload"]["masterBatchRecord"]["product"]
        == "AFTER-SDO-1"
    )
    assert created["type"] == "twinline.events.v1.MasterBatchRecordCreated"
    assert created["payload"]["masterBatchRecord"]["name"] == created["ce_subject"]
    assert created["subject"] == "twinline.songdo.batchrecords.master_batch_record.created"
    # Nothing left for it: every event delivered and acknowledged.
    consumer = await client.jetstream().consumer_info(stream_name("syracuse"), DURABLE)
    assert (consumer.num_pending, consumer.num_ack_pending) == (0, 0)


def test_the_example_needs_only_nats_the_protobuf_package_and_the_standard_library() -> None:
    imported = set()
    for node in ast.walk(ast.parse(EXAMPLE.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"nats", "twinline", "google"}
