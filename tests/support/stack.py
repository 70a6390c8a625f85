"""The system for end-to-end tests: a nats-server per site (leaf link through a proxy the test
owns), and each site's service processes on free loopback ports, SQLite in tmp.

Every service of the topology by default; a test module that needs fewer names them, e.g.
``stack = stack_fixture(services=[BATCH_RECORDS.name])``: at every site, only those start. The
topology's tools (the board) run only where a test names them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest_asyncio

from services.client.session import Session
from services.common.domain.roles import Role
from services.common.identity.directory import UserDirectory, open_user_directory
from services.common.settings import Settings
from services.common.sites import SiteRegistry
from services.devstack.demo_users import demo_password, ensure_demo_users
from services.devstack.processes import ServiceProcess
from services.devstack.topology import (
    BATCH_RECORDS,
    PROCESS_NAMES,
    SERVICE_NAMES,
    address_variable,
    service,
)
from tests.support.nats_harness import NatsSites, free_port

HEARTBEAT_SECONDS = 0.5
SECRET = "test-secret-for-tokens-0123456789abcdef"


class Logins(Protocol):
    """Signs a site's demo user in at one of its services: the Stack, or the bench's servers."""

    async def login(self, site: str, job: str, service: str = BATCH_RECORDS.name) -> Session: ...


@dataclass
class Stack:
    base_dir: Path
    registry: SiteRegistry
    nats: NatsSites
    # What each site runs, in the topology's order; every service by default.
    services: tuple[str, ...] = SERVICE_NAMES
    processes: dict[tuple[str, str], ServiceProcess] = field(default_factory=dict)
    sessions: list[Session] = field(default_factory=list)

    def __post_init__(self) -> None:
        named = {service(name).name for name in self.services}  # unknown names refused
        self.services = tuple(name for name in PROCESS_NAMES if name in named)

    def service(self, site: str, name: str) -> ServiceProcess:
        if name not in self.services:
            raise LookupError(
                f"this stack runs {', '.join(self.services)}, not {name}: name it in "
                "stack_fixture(services=...)"
            )
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
            ports = {name: free_port() for name in self.services}
            for name in self.services:
                called = {address_variable(other): f"127.0.0.1:{ports[other]}"
                          for other in service(name).calls if other in ports}
                process = ServiceProcess(
                    name, site=site.id, grpc_port=ports[name], env=self.env(site.id) | called,
                    log_path=self.base_dir / "logs" / f"{site.id}-{name}.log",
                )
                self.processes[(site.id, name)] = process
        await asyncio.gather(*(process.start() for process in self.processes.values()))

    async def login(self, site: str, job: str, service: str = BATCH_RECORDS.name) -> Session:
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


@contextlib.asynccontextmanager
async def running_stack(
    base_dir: Path, services: Iterable[str] = SERVICE_NAMES
) -> AsyncIterator[Stack]:
    """Both sites of the default registry with ``services`` at each, closed on leaving."""
    registry = write_default_registry(base_dir / "sites.toml")
    running = Stack(base_dir, registry, NatsSites(base_dir / "nats", registry), tuple(services))
    try:
        await running.start()
        yield running
    finally:
        await running.close()


def stack_fixture(services: Iterable[str] = SERVICE_NAMES) -> Callable[..., Any]:
    """A ``stack`` fixture running ``services`` at every site; a test module assigns it to
    ``stack`` to override the suite's (every service)."""
    chosen = tuple(services)

    @pytest_asyncio.fixture(name="stack")
    async def started(tmp_path: Path) -> AsyncIterator[Stack]:
        async with running_stack(tmp_path, chosen) as running:
            yield running

    return started


stack = stack_fixture()
