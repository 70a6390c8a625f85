"""``python -m services.devstack.launcher`` as a subprocess on free loopback ports with one site,
its console captured in a file, and its children found through /proc."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from services.devstack.launcher import LEAF_PORT_VARIABLE, NATS_PORT_BASE_VARIABLE
from services.devstack.processes import PROJECT_ROOT
from services.devstack.topology import (
    GRPC_PORT_BASE_VARIABLE,
    PROCESS_NAMES,
    port_block_size,
    port_in_block,
)
from tests.support.nats_harness import free_port
from tests.support.stack import SECRET
from tests.support.waiting import wait_until

ONE_SITE = """[[site]]
id = "syracuse"
code = "SYR"
display_name = "Syracuse, NY (USA)"
time_zone = "America/New_York"
nats_domain = "syracuse"
"""
START_TIMEOUT = 120.0


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    while True:
        port = free_port()
        if port + count <= 65536 and all(port_is_free(port + n) for n in range(1, count)):
            return port


def free_site_ports() -> int:
    """The first of a free block of ports for every service of one site."""
    return free_port_block(port_block_size(1))


def launcher_env(
    base: Path, grpc_base: int, nats_port: int, leaf_port: int, sites: str = ONE_SITE
) -> dict[str, str]:
    sites_file = base / "sites.toml"
    sites_file.write_text(sites)
    return {
        **os.environ,
        "TWINLINE_DATA_DIR": str(base / "data"),
        "TWINLINE_SITES_FILE": str(sites_file),
        "TWINLINE_AUTH_SECRET": SECRET,
        "TWINLINE_SQLITE_SYNCHRONOUS": "NORMAL",
        "TWINLINE_SHUTDOWN_GRACE_SECONDS": "5",
        GRPC_PORT_BASE_VARIABLE: str(grpc_base),
        NATS_PORT_BASE_VARIABLE: str(nats_port),
        LEAF_PORT_VARIABLE: str(leaf_port),
        "COLUMNS": "80",
    }


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Launcher:
    base: Path
    process: subprocess.Popen[bytes]
    grpc_base: int
    nats_port: int
    leaf_port: int
    env: dict[str, str]
    site_count: int = 1

    @classmethod
    def start(cls, base: Path, sites: str = ONE_SITE) -> Launcher:
        """``sites``: the registry's text; each site takes 10 gRPC ports and a NATS port."""
        count = sites.count("[[site]]")
        grpc_base = free_port_block(port_block_size(count))
        nats_port, leaf_port = free_port_block(count), free_port()
        env = launcher_env(base, grpc_base, nats_port, leaf_port, sites)
        with (base / "console.txt").open("wb") as console:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.devstack.launcher"], cwd=PROJECT_ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as a terminal would give it
            )
        launched = cls(base, process, grpc_base, nats_port, leaf_port, env, count)
        try:
            asyncio.run(wait_until(
                launched._ready, timeout=START_TIMEOUT, interval=0.1,
                message="the launcher printed its table",
            ))
        except BaseException:
            launched.stop()
            raise
        return launched

    @classmethod
    def run_to_end(cls, base: Path, timeout: float, nats_port: int | None = None) -> Finished:
        """A launcher on ``base``'s data directory (and other ports), run until it exits."""
        env = launcher_env(base, free_site_ports(), nats_port or free_port(), free_port())
        done = subprocess.run(
            [sys.executable, "-m", "services.devstack.launcher"], cwd=PROJECT_ROOT, env=env,
            stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False,
        )
        return Finished(done.returncode, done.stdout.decode(), done.stderr.decode())

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the launcher exited early:\n{self.output()}")
        return "Ctrl-C stops everything." in self.output()

    def output(self) -> str:
        return (self.base / "console.txt").read_text(errors="replace")

    def address(self, service: str, site_index: int = 0) -> str:
        """Where ``service`` of the registry's first site (or of ``site_index``) listens."""
        return f"127.0.0.1:{port_in_block(self.grpc_base, site_index, service)}"

    def ports(self) -> list[int]:
        """Every port the launcher's children listen on."""
        return [
            *(port_in_block(self.grpc_base, index, service)
              for index in range(self.site_count) for service in PROCESS_NAMES),
            *(self.nats_port + index for index in range(self.site_count)),
            self.leaf_port,
        ]

    def children(self) -> dict[int, str]:
        """PID -> command line of each live child of the launcher."""
        found: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            # The fields after the parenthesised name: state, ppid, ...
            if int(stat.rpartition(")")[2].split()[1]) == self.process.pid:
                found[int(entry.name)] = command
        return found

    def child(self, marker: str) -> int:
        matching = [pid for pid, command in self.children().items() if marker in command]
        assert len(matching) == 1, (marker, self.children())
        return matching[0]

    @staticmethod
    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return False
        return state != "Z"

    @staticmethod
    def dead_pid() -> int:
        probe = subprocess.Popen(["true"])
        probe.wait()
        return probe.pid

    def stop(self) -> None:
        left = self.children() if self.process.poll() is None else {}
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Whatever the launcher left behind (a failed test) must not outlive the test.
        for pid in left:
            if self.alive(pid):
                os.kill(pid, signal.SIGKILL)
