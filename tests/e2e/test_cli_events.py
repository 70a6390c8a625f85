"""``twinline events tail`` against two real sites: a master record drafted at Syracuse is
read from Songdo's NATS (sourced across the link), as a line and as JSON; the filters by
origin and context leave it out; bad arguments and an unreachable NATS are said plainly."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from services.devstack.topology import BATCH_RECORDS, SITE_VIEW
from tests.support import mbr
from tests.support.nats_harness import free_port
from tests.support.stack import Stack, stack_fixture

stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name])  # the view beats
PROJECT_ROOT = Path(__file__).resolve().parents[2]
TAIL_TIMEOUT_S = 90


async def tail(stack: Stack, *options: str) -> subprocess.CompletedProcess[str]:
    """``twinline events tail`` at Songdo in its own process, as an operator runs it."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli.app", "events", "tail", "--site", "songdo",
         *options],
        env={**os.environ, **stack.env("songdo"), "COLUMNS": "200"}, cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=TAIL_TIMEOUT_S,
    )


async def test_an_event_of_syracuse_is_tailed_at_songdo_and_the_filters_hold(
    stack: Stack,
) -> None:
    author = await stack.login("syracuse", "author")
    drafted = await mbr.create(author, product="TWX-TAIL")

    # Waits until the event has crossed the link: one event, then it stops.
    as_json = await tail(stack, "--since", "1h", "--origin", "syracuse",
                         "--context", "batchrecords", "--max-events", "1", "--output", "json")
    assert as_json.returncode == 0, as_json.stderr
    event = json.loads(as_json.stdout)
    assert (event["site"], event["context"], event["event"]) == (
        "syracuse", "batchrecords", "master_batch_record.created")
    assert event["type"] == "twinline.events.v1.MasterBatchRecordCreated"
    assert event["resource"] == drafted.name
    assert event["payload"]["master_batch_record"]["product"] == "TWX-TAIL"

    as_text = await tail(stack, "--since", "1h", "--origin", "syracuse", "--max-events", "1")
    assert as_text.returncode == 0, as_text.stderr
    line = as_text.stdout.strip()
    assert line.split()[1:4] == ["syracuse", "batchrecords", "master_batch_record.created"]
    assert f"{drafted.name.split('/')[1]}@1 now DRAFT" in line  # the record as commands take it

    # Songdo originated nothing of batch records, and no context is named "conjugation" here:
    # the tail stops on being idle with nothing printed (heartbeats are not shown).
    for options in (("--origin", "songdo", "--context", "batchrecords"),
                    ("--context", "conjugation")):
        nothing = await tail(stack, "--since", "1h", "--idle-seconds", "3", *options)
        assert nothing.returncode == 0, nothing.stderr
        assert nothing.stdout == "", nothing.stdout

    with_heartbeats = await tail(stack, "--origin", "songdo", "--heartbeats",
                                 "--max-events", "1", "--output", "json")
    assert json.loads(with_heartbeats.stdout)["event"] == "site.heartbeat"


async def test_bad_arguments_and_an_unreachable_nats(stack: Stack) -> None:
    bad_since = await tail(stack, "--since", "yesterday")
    assert bad_since.returncode == 2 and "--since 'yesterday'" in bad_since.stderr
    unknown = await tail(stack, "--origin", "tokyo")
    assert unknown.returncode == 2 and "unknown origin 'tokyo'" in unknown.stderr
    nobody = await tail(stack, "--nats-url", f"nats://127.0.0.1:{free_port()}")
    assert nobody.returncode == 4 and "does not answer" in nobody.stderr
