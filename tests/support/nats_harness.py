"""Real nats-servers for tests: one per site, the leaf links through a TCP proxy that can cut them.

Use the `nats_sites` fixture (the registry in deploy/sites.toml) or `start_nats_sites` (also a
registry of other sites, e.g. three); either stops every server at teardown, also when the test
fails. tests/conftest.py makes both fixtures available to every test.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import nats
import pytest_asyncio
from nats.aio.client import Client

from services.common.sites import SiteRegistry
from services.devstack.nats_config import render_site_config
from services.devstack.nats_server import NatsServerProcess
from tests.support.waiting import wait_until

LINK_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TcpProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target_port`; `cut()` severs it until `restore()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._cut = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    def cut(self) -> None:
        """Drops every live connection and refuses new ones, like a broken WAN link."""
        self._cut = True
        for writer in list(self._writers):
            writer.transport.abort()

    def restore(self) -> None:
        self._cut = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._cut:
            client.transport.abort()
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client.transport.abort()  # the target is down: the caller sees a dropped connection
            return
        if self._cut:  # cut while we were dialing
            client.transport.abort()
            upstream.transport.abort()
            return
        self._writers.update((client, upstream))
        for reader, writer, other in (
            (client_reader, upstream, client),
            (upstream_reader, client, upstream),
        ):
            pump = asyncio.create_task(self._pump(reader, writer, other))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        other: asyncio.StreamWriter,
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # One side gone: drop both, as a real link failure would.
            for end in (writer, other):
                end.transport.abort()
                self._writers.discard(end)


class NatsSites:
    """One nats-server per site of `registry` under `base_dir`; non-hub leaves go via `proxy`."""

    def __init__(self, base_dir: Path, registry: SiteRegistry) -> None:
        self.base_dir = base_dir
        self.registry = registry
        self._hub_leaf_port = free_port()
        self.proxy = TcpProxy(self._hub_leaf_port)
        self._servers: dict[str, NatsServerProcess] = {}
        self._clients: dict[str, Client] = {}
        for site in registry.sites:
            site_dir = base_dir / site.id
            site_dir.mkdir(parents=True, exist_ok=True)
            client_port = free_port()
            store_dir = site_dir / "jetstream"
            config_path = site_dir / "nats.conf"
            config_path.write_text(
                render_site_config(
                    site,
                    registry,
                    client_port=client_port,
                    leaf_port=self._hub_leaf_port,
                    hub_leaf_url=f"nats-leaf://127.0.0.1:{self.proxy.port}",
                    store_dir=store_dir,
                )
            )
            self._servers[site.id] = NatsServerProcess(
                config_path, client_port, store_dir=store_dir
            )

    def url(self, site_id: str) -> str:
        return self._servers[site_id].url

    def server(self, site_id: str) -> NatsServerProcess:
        return self._servers[site_id]

    async def start(self) -> None:
        try:
            await self.proxy.start()
            for server in self._servers.values():
                await server.start()
            await self.wait_linked()
        except BaseException:
            await self.close()
            raise

    async def client(self, site_id: str) -> Client:
        """This site's shared client; it reconnects quickly across restarts and closes with us."""
        if site_id not in self._clients:
            self._clients[site_id] = await nats.connect(
                self.url(site_id),
                reconnect_time_wait=0.05,
                max_reconnect_attempts=-1,
                connect_timeout=1,
                error_cb=_ignore_error,
            )
        return self._clients[site_id]

    async def wait_linked(self) -> None:
        """Returns once every site reaches every other site's JetStream API over the leaf link."""
        for site in self.registry.sites:
            client = await self.client(site.id)
            for other in self.registry.others(site.id):
                api = f"$JS.{other.nats_domain}.API.INFO"
                await wait_until(
                    functools.partial(_answers, client, api),
                    LINK_TIMEOUT,
                    message=f"{site.id} reaching {api}",
                    ignore=(TimeoutError, nats.errors.Error),
                )

    async def close(self) -> None:
        """Closes the clients, stops every server and the proxy; safe to call twice."""
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        self._clients.clear()
        for server in self._servers.values():
            with contextlib.suppress(Exception):
                await server.stop()
        await self.proxy.close()


async def _answers(client: Client, subject: str) -> bool:
    await client.request(subject, b"", timeout=0.25)
    return True


async def _ignore_error(error: Exception) -> None:
    # Tests restart servers on purpose; the client reconnects and the test checks the outcome.
    pass


def write_registry(path: Path, site_ids: list[str]) -> SiteRegistry:
    """A sites.toml listing `site_ids` (the first is the hub), loaded as a registry."""
    blocks = [
        f'[[site]]\nid = "{site_id}"\ncode = "{site_id[:3].upper()}"\n'
        f'display_name = "{site_id.title()}"\ntime_zone = "UTC"\nnats_domain = "{site_id}"\n'
        for site_id in site_ids
    ]
    path.write_text("\n".join(blocks))
    return SiteRegistry.load(path)


class StartNatsSites(Protocol):
    async def __call__(self, site_ids: list[str] | None = None) -> NatsSites: ...


@pytest_asyncio.fixture
async def start_nats_sites(tmp_path: Path) -> AsyncIterator[StartNatsSites]:
    """A factory: `await start_nats_sites()` starts and links the servers of deploy/sites.toml;
    `await start_nats_sites(["a", "b", "c"])` those of a sites.toml written with these sites."""
    started: list[NatsSites] = []

    async def start(site_ids: list[str] | None = None) -> NatsSites:
        base_dir = tmp_path / f"nats-{len(started)}"
        base_dir.mkdir()
        if site_ids is None:
            registry = SiteRegistry.load()
        else:
            registry = write_registry(base_dir / "sites.toml", site_ids)
        sites = NatsSites(base_dir, registry)
        started.append(sites)
        await sites.start()
        return sites

    try:
        yield start
    finally:
        for sites in started:
            await sites.close()


@pytest_asyncio.fixture
async def nats_sites(start_nats_sites: StartNatsSites) -> NatsSites:
    """The sites of deploy/sites.toml, started and linked."""
    return await start_nats_sites()
