"""``make run``: both sites (every site of the registry), each with its nats-server and its
services, on fixed loopback ports; demo users on first start; Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from services.common.demo_users import DemoUser, ensure_demo_users
from services.common.identity import open_user_directory
from services.common.nats_config import (
    HUB_LEAF_PORT,
    default_client_port,
    render_site_config,
)
from services.common.nats_server import NatsServerProcess
from services.common.settings import Settings
from services.common.sites import Site, SiteRegistry
from services.processes import PROJECT_ROOT, SERVICES, ServiceProcess

GRPC_PORT_BASE = 50051


def grpc_port(registry: SiteRegistry, site: Site, service: str) -> int:
    """batch_records of the first site on 50051, its site_view on 50052; next site +10."""
    return GRPC_PORT_BASE + 10 * registry.ids().index(site.id) + SERVICES.index(service)


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

    @classmethod
    def default(cls, registry: SiteRegistry, data_dir: Path) -> Deployment:
        return cls(
            registry=registry, data_dir=data_dir,
            nats_ports={site.id: default_client_port(site, registry) for site in registry.sites},
            leaf_port=HUB_LEAF_PORT,
            service_ports={
                (site.id, service): grpc_port(registry, site, service)
                for site in registry.sites for service in SERVICES
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

    async def start_services(self) -> None:
        for site in self.registry.sites:
            for service in SERVICES:
                self.services[(site.id, service)] = ServiceProcess(
                    service, site=site.id, grpc_port=self.service_ports[(site.id, service)],
                    env={
                        **self.env,
                        "TWINLINE_NATS_URL": self.nats_url(site.id),
                        "TWINLINE_DATA_DIR": str(self.data_dir),
                    },
                    log_path=self.data_dir / site.id / f"{service}.log",
                )
        await asyncio.gather(*(process.start() for process in self.services.values()))

    async def start(self) -> None:
        try:
            await self.start_nats()
            await self.start_services()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await asyncio.gather(
            *(process.stop() for process in self.services.values()), return_exceptions=True
        )
        for server in self.nats.values():
            with contextlib.suppress(Exception):
                await server.stop()


def _print_overview(console: Console, deployment: Deployment, users: list[DemoUser]) -> None:
    sites = Table(title="Twinline is running", show_lines=False)
    for column in ("site", "MasterBatchRecordService", "SiteViewService", "NATS"):
        sites.add_column(column)
    for site in deployment.registry.sites:
        sites.add_row(
            site.display_name, deployment.address(site.id, "batch_records"),
            deployment.address(site.id, "site_view"), deployment.nats_url(site.id),
        )
    console.print(sites)
    accounts = Table(title="Demo users (change a password: twinline users set-password NAME)")
    for column in ("username", "password", "roles", "site"):
        accounts.add_column(column)
    for user in users:
        shown = user.password if user.created or _unchanged(deployment, user) else "(changed)"
        accounts.add_row(user.username, shown, ", ".join(user.roles), user.site)
    console.print(accounts)
    console.print(
        f"Logs and databases: {deployment.data_dir}.  Try `make demo` in another terminal. "
        "Ctrl-C stops everything."
    )


def _unchanged(deployment: Deployment, user: DemoUser) -> bool:
    directory = open_user_directory(deployment.settings(user.site))
    try:
        directory.authenticate(user.username, user.password)
        return True
    except Exception:
        return False


async def run() -> None:
    console = Console()
    settings = Settings()
    deployment = Deployment.default(settings.registry, settings.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with console.status("starting nats-servers and services for every site…"):
        users = deployment.seed_demo_users()
        await deployment.start()
    _print_overview(console, deployment, users)
    await stop.wait()
    with console.status("stopping (in-flight calls finish, outboxes are flushed)…"):
        await deployment.stop()
    console.print("stopped.")


def main() -> None:
    os.chdir(PROJECT_ROOT)
    asyncio.run(run())


if __name__ == "__main__":
    main()
