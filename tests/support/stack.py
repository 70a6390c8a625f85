"""The whole system for end-to-end tests: a nats-server per site (leaf link through a proxy
the test owns), and each site's service processes on free loopback ports, SQLite in tmp.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest_asyncio

from services.client.session import Session
from services.common.domain.roles import Role
from services.common.identity.directory import UserDirectory, open_user_directory
from services.common.settings import Settings
from services.common.sites import SiteRegistry
from services.devstack.demo_users import demo_password, ensure_demo_users
from services.devstack.processes import SERVICES, ServiceProcess
from tests.support.nats_harness import NatsSites, free_port

HEARTBEAT_SECONDS = 0.5
SECRET = "test-secret-for-tokens-0123456789abcdef"


@dataclass
class Stack:
    base_dir: Path
    registry: SiteRegistry
    nats: NatsSites
    processes: dict[tuple[str, str], ServiceProcess] = field(default_factory=dict)
    sessions: list[Session] = field(default_factory=list)

    def service(self, site: str, name: str) -> ServiceProcess:
        return self.processes[(site, name)]

    def address(self, site: str, name: str) -> str:
        return self.service(site, name).address

    def env(self, site: str) -> dict[str, str]:
        return {
            "TWINLINE_NATS_URL": self.nats.url(site),
            "TWINLINE_DATA_DIR": str(self.base_dir / "data"),
            "TWINLINE_AUTH_SECRET": SECRET,
            "TWINLINE_SITES_FILE": str(self.registry_file),
            "TWINLINE_SQLITE_SYNCHRONOUS": "NORMAL",
            "TWINLINE_SHUTDOWN_GRACE_SECONDS": "5",
            # Quick heartbeats, so a test sees a link read current or stale within seconds.
            "TWINLINE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        }

    @property
    def registry_file(self) -> Path:
        return self.base_dir / "sites.toml"

    def seed_users(self) -> None:
        for site in self.registry.sites:
            settings = Settings(
                site=site.id, data_dir=self.base_dir / "data", sites_file=self.registry_file
            )
            ensure_demo_users(open_user_directory(settings), site.id)

    def directory(self, site: str) -> UserDirectory:
        """The site's users as an administrator's CLI sees them: from another process."""
        return open_user_directory(
            Settings(site=site, data_dir=self.base_dir / "data", sites_file=self.registry_file)
        )

    def add_user(self, site: str, job: str, roles: tuple[Role, ...]) -> None:
        """A user beyond the demo ones, e.g. holding two roles, with the demo password rule."""
        self.directory(site).add_user(
            f"{site}.{job}", f"{job.title()} (test)", demo_password(job), roles, site
        )

    async def start(self) -> None:
        await self.nats.start()
        self.seed_users()
        for site in self.registry.sites:
            for name in SERVICES:
                process = ServiceProcess(
                    name, site=site.id, grpc_port=free_port(), env=self.env(site.id),
                    log_path=self.base_dir / "logs" / f"{site.id}-{name}.log",
                )
                self.processes[(site.id, name)] = process
        await asyncio.gather(*(process.start() for process in self.processes.values()))

    async def login(self, site: str, job: str, service: str = "batch_records") -> Session:
        session = await Session.login(
            self.address(site, service), f"{site}.{job}", demo_password(job)
        )
        self.sessions.append(session)
        return session

    async def close(self) -> None:
        for session in self.sessions:
            with contextlib.suppress(Exception):
                await session.close()
        await asyncio.gather(
            *(process.stop() for process in self.processes.values()), return_exceptions=True
        )
        await self.nats.close()


def write_default_registry(path: Path) -> SiteRegistry:
    path.write_text(Path(Settings().sites_file).read_text())
    return SiteRegistry.load(path)


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    registry = write_default_registry(tmp_path / "sites.toml")
    running = Stack(tmp_path, registry, NatsSites(tmp_path / "nats", registry))
    try:
        await running.start()
        yield running
    finally:
        await running.close()
