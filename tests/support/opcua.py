"""A simulated plant for the OPC UA bridge's tests: asyncua's own Server on a loopback port
with one variable per tag, and the bridge itself as the child process a plant would run."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from asyncua import Node, Server, ua

from services.conjugation.opcua_bridge.config import PASSWORD_ENV
from services.conjugation.opcua_bridge.points import time_us_of
from services.devstack.processes import PROJECT_ROOT
from tests.support.nats_harness import free_port
from tests.support.waiting import wait_until

NAMESPACE = "urn:twinline:test-plant"
STOP_TIMEOUT_S = 20.0


@dataclass
class SimulatedPlant:
    """Reactor R201's variables; ``produced`` is every value the server was given, per tag."""

    server: Server
    endpoint: str
    namespace: int
    variables: dict[str, Node]
    produced: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def node_id(self, tag: str) -> str:
        return f"ns={self.namespace};s={tag}"

    async def change(self, tag: str, value: float, source_time: datetime) -> None:
        """The PLC's new value of ``tag``, measured at ``source_time`` (UTC)."""
        await self.variables[tag].write_value(ua.DataValue(
            ua.Variant(value, ua.VariantType.Double), SourceTimestamp=source_time,
            ServerTimestamp=source_time,
        ))
        self.produced.setdefault(tag, []).append((time_us_of(source_time), value))


@contextlib.asynccontextmanager
async def simulated_plant(
    tags: list[str], first_values: dict[str, tuple[float, datetime]]
) -> AsyncIterator[SimulatedPlant]:
    """The server with a Double variable per tag, each holding its first value (which a new
    subscription receives at once, so it is produced too)."""
    logging.getLogger("asyncua").setLevel(logging.WARNING)
    server = Server()
    await server.init()
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/twinline/"
    server.set_endpoint(endpoint)
    namespace = await server.register_namespace(NAMESPACE)
    reactor = await server.nodes.objects.add_object(ua.NodeId("R201", namespace), "R201")
    variables = {
        tag: await reactor.add_variable(ua.NodeId(tag, namespace), tag, 0.0,
                                        varianttype=ua.VariantType.Double)
        for tag in tags
    }
    plant = SimulatedPlant(server, endpoint, namespace, variables)
    for tag, (value, when) in first_values.items():
        await plant.change(tag, value, when)
    async with server:
        yield plant


class BridgeProcess:
    """``python -m services.conjugation.opcua_bridge --config <file>``, its log in a file."""

    def __init__(self, config: Path, password: str, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self._env = {**os.environ, PASSWORD_ENV: password, "PYTHONUNBUFFERED": "1"}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "services.conjugation.opcua_bridge",
                 "--config", str(self.config)],
                env=self._env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; the exit code. It waits without blocking
        the event loop, where the simulated plant answers the bridge's goodbye."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await wait_until(lambda: process.poll() is not None, STOP_TIMEOUT_S)
            except AssertionError:
                process.kill()
                process.wait()
        return process.returncode

