"""One site for tests of a service's own behaviour: a nats-server of its own (its config may
lower ``max_payload``) and the site's batch_records process, SQLite in tmp.

Use the ``start_one_site`` fixture: ``await start_one_site(max_payload=64 * 1024)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest_asyncio

from services.client.session import Session
from services.common.identity.directory import open_user_directory
from services.common.settings import Settings
from services.common.sites import SiteRegistry
from services.devstack.demo_users import demo_password, ensure_demo_users
from services.devstack.nats_config import render_site_config
from services.devstack.nats_server import NatsServerProcess
from services.devstack.processes import ServiceProcess
from services.devstack.topology import BATCH_RECORDS
from tests.support.nats_harness import free_port
from tests.support.stack import SECRET, write_default_registry

SITE = "syracuse"


@dataclass
class OneSite:
    base_dir: Path
    registry: SiteRegistry
    nats: NatsServerProcess
    service: ServiceProcess
    sessions: list[Session] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def database_path(self, service: str = BATCH_RECORDS.name) -> Path:
        return self.data_dir / SITE / f"{service}.db"

    async def login(self, job: str) -> Session:
        session = await Session.login(self.service.address, f"{SITE}.{job}", demo_password(job))
        self.sessions.append(session)
        return session

    async def restart_nats(self, *, max_payload: int | None = None) -> None:
        """The site's nats-server stopped and started again (same store), with ``max_payload``
        (bytes; None: the server's default)."""
        await self.nats.stop()
        nats_config(self.base_dir, self.registry, self.nats.client_port, max_payload)
        await self.nats.start()

    async def close(self) -> None:
        for session in self.sessions:
            with contextlib.suppress(Exception):
                await session.close()
        await self.service.stop()
        await self.nats.stop()


def nats_config(
    base_dir: Path, registry: SiteRegistry, client_port: int, max_payload: int | None
) -> Path:
    """The site's nats-server config, with ``max_payload`` (bytes) when given."""
    text = render_site_config(
        registry.get(SITE), registry, client_port=client_port, leaf_port=free_port(),
        store_dir=base_dir / "jetstream",
    )
    if max_payload is not None:
        text += f"max_payload: {max_payload}\n"
    path = base_dir / "nats.conf"
    path.write_text(text)
    return path


class StartOneSite(Protocol):
    async def __call__(self, *, max_payload: int | None = None, **env: str) -> OneSite: ...


@pytest_asyncio.fixture
async def start_one_site(tmp_path: Path) -> AsyncIterator[StartOneSite]:
    started: list[OneSite] = []

    async def start(*, max_payload: int | None = None, **env: str) -> OneSite:
        base_dir = tmp_path / f"site-{len(started)}"
        base_dir.mkdir()
        registry_file = base_dir / "sites.toml"
        registry = write_default_registry(registry_file)
        client_port = free_port()
        nats = NatsServerProcess(
            nats_config(base_dir, registry, client_port, max_payload), client_port,
            store_dir=base_dir / "jetstream",
        )
        settings = Settings(site=SITE, data_dir=base_dir / "data", sites_file=registry_file)
        ensure_demo_users(open_user_directory(settings), SITE)
        service = ServiceProcess(
            BATCH_RECORDS.name, site=SITE, grpc_port=free_port(),
            env={
                "TWINLINE_NATS_URL": nats.url,
                "TWINLINE_DATA_DIR": str(base_dir / "data"),
                "TWINLINE_AUTH_SECRET": SECRET,
                "TWINLINE_SITES_FILE": str(registry_file),
                "TWINLINE_SQLITE_SYNCHRONOUS": "NORMAL",
                "TWINLINE_SHUTDOWN_GRACE_SECONDS": "2",
                **env,
            },
            log_path=base_dir / "logs" / f"{BATCH_RECORDS.name}.log",
        )
        site = OneSite(base_dir, registry, nats, service)
        started.append(site)
        await nats.start()
        await service.start()
        return site

    try:
        yield start
    finally:
        for site in started:
            await site.close()
