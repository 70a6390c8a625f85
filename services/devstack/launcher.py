"""``make run``: both sites (every site of the registry), each with its nats-server and its
services, on fixed loopback ports; demo users on first start. It supervises its children (a
crashed one is restarted with backoff), refuses to start over a running instance (a lock in
the data directory) and stops everything on Ctrl-C, SIGTERM and SIGHUP (terminal closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.table import Table

from services.common.identity.directory import open_user_directory
from services.common.settings import Settings
from services.common.sites import Site, SiteRegistry
from services.devstack.console_script import twinline_command
from services.devstack.demo_users import DemoUser, ensure_demo_users
from services.devstack.nats_config import (
    HUB_LEAF_PORT,
    default_client_port,
    render_site_config,
)
from services.devstack.nats_server import NatsServerError, NatsServerProcess
from services.devstack.processes import (
    PROJECT_ROOT,
    ServiceProcess,
    ServiceProcessError,
    Supervised,
    Supervisor,
)
from services.devstack.topology import (
    PROCESS_NAMES,
    PROCESSES,
    address_variable,
    grpc_port,
    service,
)

# Move the NATS ports of `make run` (the gRPC ones: topology.GRPC_PORT_BASE_VARIABLE).
NATS_PORT_BASE_VARIABLE = "TWINLINE_RUN_NATS_PORT_BASE"
LEAF_PORT_VARIABLE = "TWINLINE_RUN_LEAF_PORT"
LOCK_FILE = "launcher.lock"


def nats_port(registry: SiteRegistry, site: Site) -> int:
    base = os.environ.get(NATS_PORT_BASE_VARIABLE)
    if base is None:
        return default_client_port(site, registry)
    return int(base) + registry.ids().index(site.id)


class AlreadyRunning(RuntimeError):
    """Another launcher holds the lock of this data directory."""


class RunLock:
    """``<data_dir>/launcher.lock``: held (flock) by the running launcher, naming its PID.

    The kernel drops the flock when its holder dies, however it dies, so a lock file left by a
    dead launcher is simply taken over.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = self.path.open("a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "unknown"
            lock_file.close()
            raise AlreadyRunning(
                f"Twinline is already running from {self.path.parent} (launcher PID {holder}, "
                f"lock {self.path}). Stop it first: Ctrl-C in its terminal, or kill {holder}."
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._file = lock_file

    def release(self) -> None:
        if self._file is not None:
            self.path.unlink(missing_ok=True)
            self._file.close()
            self._file = None


@dataclass
class Deployment:
    """Every site's nats-server and services, started and stopped together."""

    registry: SiteRegistry
    data_dir: Path
    nats_ports: dict[str, int]
    leaf_port: int
    service_ports: dict[tuple[str, str], int]
    env: dict[str, str] = field(default_factory=dict)
    nats: dict[str, NatsServerProcess] = field(default_factory=dict)
    services: dict[tuple[str, str], ServiceProcess] = field(default_factory=dict)
    supervisor: Supervisor | None = None

    @classmethod
    def default(cls, registry: SiteRegistry, data_dir: Path) -> Deployment:
        return cls(
            registry=registry, data_dir=data_dir,
            nats_ports={site.id: nats_port(registry, site) for site in registry.sites},
            leaf_port=int(os.environ.get(LEAF_PORT_VARIABLE, HUB_LEAF_PORT)),
            service_ports={
                (site.id, service): grpc_port(registry, site, service)
                for site in registry.sites for service in PROCESS_NAMES
            },
        )

    def nats_url(self, site_id: str) -> str:
        return f"nats://127.0.0.1:{self.nats_ports[site_id]}"

    def address(self, site_id: str, service: str) -> str:
        return f"127.0.0.1:{self.service_ports[(site_id, service)]}"

    def settings(self, site_id: str) -> Settings:
        settings = Settings(site=site_id, data_dir=self.data_dir)
        if "TWINLINE_SITES_FILE" in self.env:
            settings.sites_file = Path(self.env["TWINLINE_SITES_FILE"])
        return settings

    def seed_demo_users(self) -> list[DemoUser]:
        users: list[DemoUser] = []
        for site in self.registry.sites:
            users += ensure_demo_users(open_user_directory(self.settings(site.id)), site.id)
        return users

    async def start_nats(self) -> None:
        for site in self.registry.sites:
            site_dir = self.data_dir / site.id
            site_dir.mkdir(parents=True, exist_ok=True)
            config = site_dir / "nats.conf"
            config.write_text(
                render_site_config(
                    site, self.registry, client_port=self.nats_ports[site.id],
                    leaf_port=self.leaf_port,
                    hub_leaf_url=f"nats-leaf://127.0.0.1:{self.leaf_port}",
                    store_dir=site_dir / "jetstream",
                )
            )
            server = NatsServerProcess(
                config, self.nats_ports[site.id], store_dir=site_dir / "jetstream"
            )
            await server.start()
            self.nats[site.id] = server

    def process_names(self) -> tuple[str, ...]:
        """What runs at each site: the processes of the topology this deployment has ports for."""
        return tuple(name for name in PROCESS_NAMES
                     if (self.registry.sites[0].id, name) in self.service_ports)

    async def start_services(self) -> None:
        for site in self.registry.sites:
            for name in self.process_names():
                self.services[(site.id, name)] = ServiceProcess(
                    name, site=site.id, grpc_port=self.service_ports[(site.id, name)],
                    env={
                        **self.env,
                        "TWINLINE_NATS_URL": self.nats_url(site.id),
                        "TWINLINE_DATA_DIR": str(self.data_dir),
                        **{address_variable(called): self.address(site.id, called)
                           for called in service(name).calls},
                    },
                    log_path=self.data_dir / site.id / f"{name}.log",
                )
        await asyncio.gather(*(process.start() for process in self.services.values()))

    async def start(self) -> None:
        try:
            await self.start_nats()
            await self.start_services()
        except BaseException:
            await self.stop()
            raise

    def supervise(self, report: Callable[[str], None]) -> Supervisor:
        """Starts restarting any child that exits on its own; ``report`` tells the console."""
        children: dict[str, Supervised] = {
            f"nats-server of {site_id}": server for site_id, server in self.nats.items()
        }
        children.update(
            (f"{service} of {site_id}", process)
            for (site_id, service), process in self.services.items()
        )
        self.supervisor = Supervisor(children, report)
        self.supervisor.start()
        return self.supervisor

    async def stop(self) -> None:
        if self.supervisor is not None:
            await self.supervisor.stop()
        await asyncio.gather(
            *(process.stop() for process in self.services.values()), return_exceptions=True
        )
        for server in self.nats.values():
            with contextlib.suppress(Exception):
                await server.stop()


def _print_overview(console: Console, deployment: Deployment, users: list[DemoUser]) -> None:
    # One row per service, one column per site: the table grows down as services are added.
    # Addresses never wrap or shrink (a cut port is unreadable); at 80 columns names wrap.
    sites = Table(title="Twinline is running", show_lines=False)
    sites.add_column("service", overflow="fold")
    for site in deployment.registry.sites:
        sites.add_column(
            site.display_name, no_wrap=True, min_width=len("http://127.0.0.1:65535/")
        )
    for spec in PROCESSES:
        sites.add_row(
            spec.title,
            *(spec.url(deployment.address(site.id, spec.name))
              for site in deployment.registry.sites),
        )
    sites.add_row(
        "NATS", *(f"127.0.0.1:{deployment.nats_ports[site.id]}"
                  for site in deployment.registry.sites),
    )
    console.print(sites)
    console.print(f"Change a password: {twinline_command()} users set-password NAME")
    # The username names the site ("<site>.<job>"), so the site needs no column of its own.
    accounts = Table(title="Demo users")
    accounts.add_column("username", no_wrap=True)
    accounts.add_column("password", no_wrap=True)
    accounts.add_column("roles", overflow="fold")
    for user in users:
        shown = user.password if user.created or _unchanged(deployment, user) else "(changed)"
        accounts.add_row(user.username, shown, ", ".join(user.roles))
    console.print(accounts)
    console.print("Live board: open a site's board (web) address, log in as one of its users.")
    console.print(f"Logs and databases: {deployment.data_dir}", soft_wrap=True)
    console.print("Try `make demo` in another terminal. Ctrl-C stops everything.")


def _unchanged(deployment: Deployment, user: DemoUser) -> bool:
    # The stored hash is checked, never a log-in: a changed password must not count as a
    # failed authentication (five restarts would lock the account).
    directory = open_user_directory(deployment.settings(user.site))
    return directory.password_is(user.username, user.password)


def _say(console: Console, text: str) -> None:
    # After SIGHUP the terminal may be gone; stopping the children matters more than telling.
    with contextlib.suppress(OSError):
        console.print(text)


async def run() -> int:
    console = Console()
    settings = Settings()
    deployment = Deployment.default(settings.registry, settings.data_dir)
    lock = RunLock(settings.data_dir)
    try:
        lock.acquire()
    except AlreadyRunning as refusal:
        Console(stderr=True).print(f"[red]{refusal}[/]", highlight=False)
        return 1
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, stop.set)
        try:
            with console.status("starting nats-servers and services for every site…"):
                users = deployment.seed_demo_users()
                await deployment.start()
        except (NatsServerError, ServiceProcessError) as failure:
            # e.g. a port taken by a process of another instance: said, not a traceback.
            Console(stderr=True).print(f"[red]Twinline did not start:[/] {failure}",
                                       highlight=False)
            return 1
        _print_overview(console, deployment, users)
        deployment.supervise(lambda text: _say(console, f"[bold yellow]launcher:[/] {text}"))
        await stop.wait()
        _say(console, "stopping (in-flight calls finish, outboxes are flushed)…")
        await deployment.stop()
        _say(console, "stopped.")
        return 0
    finally:
        lock.release()


def main() -> None:
    os.chdir(PROJECT_ROOT)
    raise SystemExit(asyncio.run(run()))


if __name__ == "__main__":
    main()
