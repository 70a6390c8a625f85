"""Service processes: start one with its environment, wait until it serves, stop it.

Used by ``make run`` (services/launcher.py), the end-to-end tests and the benchmarks, so the
system is always started the same way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Every site runs one process of each of these (python -m services.<name>).
SERVICES = ("batch_records", "site_view")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class ServiceProcessError(RuntimeError):
    pass


class ServiceProcess:
    """``python -m services.<name>`` for one site, with its log in a file."""

    def __init__(
        self, name: str, *, site: str, grpc_port: int, env: dict[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.site = site
        self.grpc_port = grpc_port
        self.env = {
            **os.environ, **env,
            "TWINLINE_SITE": site, "TWINLINE_GRPC_PORT": str(grpc_port),
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def spawn(self, **extra_env: str) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            env={**self.env, **extra_env}, cwd=PROJECT_ROOT, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    async def start(self, timeout: float = START_TIMEOUT, **extra_env: str) -> None:
        self.spawn(**extra_env)
        await self.wait_serving(timeout)

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
