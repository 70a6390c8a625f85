"""``make run``'s launcher as a person runs it: a subprocess on free ports and a temp data
directory. It restarts a killed child and says so, refuses a second instance naming the
first one's PID (a stale lock is taken over), and SIGHUP stops every child and frees the ports.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack.launcher import LOCK_FILE
from services.devstack.topology import BATCH_RECORDS, PROCESSES, SITE_VIEW
from tests.support.launcher import Launcher, port_is_free
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    base = tmp_path_factory.mktemp("launcher")
    data_dir = base / "data"
    data_dir.mkdir()
    # A lock left by a launcher that died: its PID names no live process, so it is taken over.
    (data_dir / LOCK_FILE).write_text(f"{Launcher.dead_pid()}\n")
    running = Launcher.start(base)
    yield running
    running.stop()


async def serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=1
        )
        return answer.status == health_pb2.HealthCheckResponse.SERVING


async def accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_a_killed_service_is_restarted_and_said_so_on_the_console(
    launcher: Launcher,
) -> None:
    victim = launcher.child(SITE_VIEW.module)
    os.kill(victim, signal.SIGKILL)

    await wait_until(
        lambda: f"{SITE_VIEW.name} of syracuse restarted and serving again" in launcher.output(),
        timeout=60, message="the console reported the restart",
    )
    assert f"{SITE_VIEW.name} of syracuse exited with code -9; restarting in" in launcher.output()
    assert await serving(launcher.address(SITE_VIEW.name))
    assert launcher.child(SITE_VIEW.module) != victim


async def test_a_killed_nats_server_is_restarted_and_said_so_on_the_console(
    launcher: Launcher,
) -> None:
    os.kill(launcher.child("nats-server"), signal.SIGKILL)

    await wait_until(
        lambda: "nats-server of syracuse restarted and serving again" in launcher.output(),
        timeout=60, message="the console reported the nats-server's restart",
    )
    assert "nats-server of syracuse exited with code -9" in launcher.output()
    assert await accepts(launcher.nats_port)


def test_a_second_launcher_over_the_same_data_dir_is_refused_naming_the_first(
    launcher: Launcher,
) -> None:
    second = Launcher.run_to_end(launcher.base, timeout=60)

    assert second.returncode == 1
    assert f"launcher PID {launcher.process.pid}" in second.stderr
    assert "already running" in second.stderr
    assert launcher.process.poll() is None  # the first one is untouched


def test_a_launcher_whose_nats_port_is_taken_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        refused = Launcher.run_to_end(tmp_path, timeout=120, nats_port=squatter.getsockname()[1])

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Twinline did not start" in refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert "Twinline is running" not in refused.stdout


def test_a_grpc_server_cannot_bind_a_port_a_service_holds(launcher: Launcher) -> None:
    # gRPC's default is SO_REUSEPORT on; the service's bind without it makes this one fail
    # (before, old and new services shared the port and every SQLite file).
    server = grpc.server(ThreadPoolExecutor(max_workers=1))
    with pytest.raises(RuntimeError):
        server.add_insecure_port(launcher.address(BATCH_RECORDS.name))


async def test_sighup_stops_every_child_and_frees_every_port(tmp_path: Path) -> None:
    running = await asyncio.to_thread(Launcher.start, tmp_path)
    children = running.children()
    assert len(children) == 1 + len(PROCESSES)  # one site: its nats-server and its processes

    # What closing the terminal does: SIGHUP to the launcher's whole process group.
    os.killpg(running.process.pid, signal.SIGHUP)

    await wait_until(lambda: running.process.poll() is not None, timeout=60,
                     message="the launcher exited")
    assert running.process.returncode == 0
    await wait_until(
        lambda: not any(Launcher.alive(pid) for pid in children), timeout=30,
        message="every child of the launcher ended",
    )
    for port in running.ports():
        assert port_is_free(port), port
    assert "stopped." in running.output()
    assert not (tmp_path / "data" / LOCK_FILE).exists()

