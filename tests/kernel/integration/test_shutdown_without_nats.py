"""A service stopped while its nats-server does not answer (frozen) says so in one log line,
with no traceback from the NATS client's drain."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from services.devstack.processes import ServiceProcess
from tests.support.nats_harness import StartNatsSites, free_port
from tests.support.stack import SECRET
from tests.support.waiting import wait_until


async def test_shutdown_with_nats_frozen_logs_one_line_and_no_traceback(
    start_nats_sites: StartNatsSites, tmp_path: Path
) -> None:
    sites = await start_nats_sites()
    server = sites.server("syracuse")
    service = ServiceProcess(
        "batch_records", site="syracuse", grpc_port=free_port(),
        env={
            "TWINLINE_NATS_URL": sites.url("syracuse"),
            "TWINLINE_DATA_DIR": str(tmp_path / "data"),
            "TWINLINE_AUTH_SECRET": SECRET,
            "TWINLINE_SQLITE_SYNCHRONOUS": "NORMAL",
            "TWINLINE_SHUTDOWN_GRACE_SECONDS": "2",
        },
        log_path=tmp_path / "batch_records.log",
    )
    await service.start()
    await wait_until(
        lambda: "connected to nats" in service.log_path.read_text(), timeout=30,
        message="the service's bus connected and set up its stream",
    )
    assert server._process is not None
    frozen = server._process.pid
    os.kill(frozen, signal.SIGSTOP)
    try:
        code = await service.stop()
    finally:
        os.kill(frozen, signal.SIGCONT)

    log = service.log_path.read_text()
    assert code == 0, log
    assert "Traceback" not in log
    assert log.count("does not answer; closed without draining") == 1
    assert "batch_records for syracuse stopped" in log
