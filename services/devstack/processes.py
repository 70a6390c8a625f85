"""Service processes: start one with its environment, wait until it serves, stop it.

Used by ``make run`` (services/devstack/launcher.py), the end-to-end tests and the benchmarks, so
the system is always started the same way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack import topology
from services.devstack.child import ChildProcess

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class ServiceProcessError(RuntimeError):
    pass


class ServiceProcess(ChildProcess):
    """``python -m <module>`` for one site, with its log in a file; the module of ``name`` in
    the topology unless given. It serves when gRPC health says so, or, for a web server of the
    topology, when its ``GET /healthz`` answers 200."""

    def __init__(
        self, name: str, *, site: str, grpc_port: int, env: dict[str, str], log_path: Path,
        module: str | None = None,
    ) -> None:
        self.name = name
        self.module = topology.service(name).module if module is None else module
        self.protocol = topology.service(name).protocol if module is None else "grpc"
        self.site = site
        self.grpc_port = grpc_port
        self.env = {
            **os.environ, **env,
            "TWINLINE_SITE": site, "TWINLINE_GRPC_PORT": str(grpc_port),
            "PYTHONUNBUFFERED": "1",
            **({"TWINLINE_HTTP_PORT": str(grpc_port)} if self.protocol == "http" else {}),
        }
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def spawn(self, **extra_env: str) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env={**self.env, **extra_env}, cwd=PROJECT_ROOT, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    async def start(self, timeout: float = START_TIMEOUT, **extra_env: str) -> None:
        self.spawn(**extra_env)
        await self.wait_serving(timeout)

    async def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Starts it again after it exited (its log file is appended to)."""
        self.kill()
        self._close()
        await self.start(timeout)

    async def wait_serving(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        async with grpc.aio.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                if not self.running:
                    raise ServiceProcessError(
                        f"{self.name}@{self.site} exited with {self.returncode}; "
                        f"see {self.log_path}:\n{self.tail()}"
                    )
                if self.protocol == "http":
                    if await http_healthy(self.grpc_port):
                        return
                else:
                    try:
                        answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                        if answer.status == health_pb2.HealthCheckResponse.SERVING:
                            return
                    except grpc.aio.AioRpcError:
                        pass
                if time.monotonic() > deadline:
                    raise ServiceProcessError(
                        f"{self.name}@{self.site} not serving after {timeout}s:\n{self.tail()}"
                    )
                await asyncio.sleep(0.05)

    async def wait_exit(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.returncode

    async def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM (graceful: in-flight calls finish, the outbox is flushed), then SIGKILL."""
        if self._process is None:
            return None
        if self.running:
            self._process.send_signal(signal.SIGTERM)
            if await self.wait_exit(timeout) is None:
                # Still running after the deadline: its threads' stacks into its log first
                # (faulthandler, services/common/grpc/server.py), then SIGKILL.
                self._process.send_signal(signal.SIGUSR1)
                await self.wait_exit(0.5)
                self.kill()
        return self._close()

    def kill(self) -> None:
        if self._process is not None and self.running:
            self._process.kill()
            self._process.wait(timeout=10)

    def _close(self) -> int | None:
        code = self.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


async def http_healthy(port: int, timeout: float = 1.0) -> bool:
    """Whether ``GET /healthz`` on loopback ``port`` answers 200 within ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                # Kept alive, so that this side closes first: the TIME_WAIT is then on this
                # side's ephemeral port, never on the server's (which must be free at its stop).
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
                await writer.wait_closed()
    except (OSError, TimeoutError):
        return False
    return status_line.split(b" ")[1:2] == [b"200"]


class Supervised(Protocol):
    """A child process the launcher keeps up: a service or a nats-server."""

    @property
    def running(self) -> bool: ...

    @property
    def returncode(self) -> int | None: ...

    async def restart(self) -> None: ...


@dataclass
class RestartPolicy:
    """Restarts a crashed child after a growing delay; gives up after too many crashes at once."""

    max_crashes: int = 5
    window_seconds: float = 60.0
    first_delay_seconds: float = 0.5
    max_delay_seconds: float = 10.0

    def delay_after(self, crashes: list[float], now: float) -> float | None:
        """Seconds to wait before the next start, or None to give up; ``crashes`` are the
        monotonic times of this child's crashes so far, the newest included."""
        recent = [moment for moment in crashes if now - moment <= self.window_seconds]
        if len(recent) >= self.max_crashes:
            return None
        return min(self.first_delay_seconds * 2 ** (len(recent) - 1), self.max_delay_seconds)


@dataclass
class Supervisor:
    """Watches children; restarts one that exited on its own, and says so through ``report``."""

    children: dict[str, Supervised]
    report: Callable[[str], None]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    poll_seconds: float = 0.2
    clock: Callable[[], float] = time.monotonic
    given_up: set[str] = field(default_factory=set)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._watch(label, child), name=f"supervise {label}")
            for label, child in self.children.items()
        ]

    async def stop(self) -> None:
        """Stops watching (before the children are stopped, so none is restarted then)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _watch(self, label: str, child: Supervised) -> None:
        crashes: list[float] = []
        while True:
            while child.running:
                await asyncio.sleep(self.poll_seconds)
            crashes.append(self.clock())
            delay = self.policy.delay_after(crashes, crashes[-1])
            if delay is None:
                self.given_up.add(label)
                self.report(
                    f"GIVING UP on {label}: it exited {self.policy.max_crashes} times within "
                    f"{self.policy.window_seconds:.0f} s (last exit code {child.returncode}); "
                    "it stays down. See its log, then restart `make run`."
                )
                return
            self.report(
                f"{label} exited with code {child.returncode}; restarting in {delay:.1f} s"
            )
            await asyncio.sleep(delay)
            try:
                await child.restart()
            except Exception as error:  # reported; the next round counts it as a crash
                self.report(f"{label} did not come back: {error}")
                continue
            self.report(f"{label} restarted and serving again")
