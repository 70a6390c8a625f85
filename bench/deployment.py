"""The system under test on free loopback ports with its data in a fresh temporary directory
(so ``make bench`` runs beside ``make run``), and the bare servers (the echo, the readings sink)
started like a service.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from services.common.sites import SiteRegistry
from services.devstack.launcher import Deployment
from services.devstack.processes import ServiceProcess
from services.devstack.topology import SERVICE_NAMES


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 (all held open until all are chosen)."""
    with contextlib.ExitStack() as stack:
        probes = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def bench_deployment(registry: SiteRegistry, data_dir: Path) -> Deployment:
    sites = [site.id for site in registry.sites]
    ports = iter(free_ports(len(sites) * (1 + len(SERVICE_NAMES)) + 1))
    return Deployment(
        registry=registry,
        data_dir=data_dir,
        nats_ports={site: next(ports) for site in sites},
        leaf_port=next(ports),
        service_ports={(site, service): next(ports) for site in sites for service in SERVICE_NAMES},
    )


class YardstickProcess(ServiceProcess):
    """A bare server the figures are divided by (``python -m bench.echo_server``,
    ``bench.readings_sink``), with the environment, readiness wait and SIGTERM stop of a service
    process."""

    def __init__(self, name: str, module: str, *, log_path: Path) -> None:
        (port,) = free_ports(1)
        super().__init__(name, site="bench", grpc_port=port, env={}, log_path=log_path,
                         module=module)


def echo_server(log_dir: Path) -> YardstickProcess:
    return YardstickProcess("echo", "bench.echo_server", log_path=log_dir / "echo.log")


def readings_sink(log_dir: Path) -> YardstickProcess:
    return YardstickProcess(
        "readings-sink", "bench.readings_sink", log_path=log_dir / "readings-sink.log"
    )
