"""A process that does not stop on SIGTERM is killed after the deadline, and its threads'
stacks are in its log first, so a hung shutdown can be diagnosed from the log alone."""

from __future__ import annotations

from pathlib import Path

from services.devstack.processes import ServiceProcess
from tests.support.nats_harness import free_port
from tests.support.waiting import wait_until


async def test_a_process_deaf_to_sigterm_leaves_its_stacks_in_its_log_and_is_killed(
    tmp_path: Path,
) -> None:
    log = tmp_path / "stubborn.log"
    process = ServiceProcess(
        "batch_records", site="syracuse", grpc_port=free_port(), env={}, log_path=log,
        module="tests.support.stubborn",
    )
    process.spawn()
    await wait_until(lambda: "READY stubborn" in log.read_text(), 20.0, message="started")

    code = await process.stop(timeout=0.5)

    assert not process.running and code is not None and code < 0  # killed by a signal
    text = log.read_text()
    assert "Current thread" in text or "Thread 0x" in text, text
    assert "stubborn.py" in text, text
