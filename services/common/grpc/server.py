"""Server bootstrap shared by every service: database, writer, bus, relay, auth, health,
reflection, and graceful shutdown on SIGTERM (finish in-flight calls, flush the relay).

A service's ``__main__.py`` says only what is its own: ``run_service(name, migrations,
register)``, with the background tasks it runs beside its RPCs, if any.
"""

from __future__ import annotations

import asyncio
import faulthandler
import functools
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.aio.client import Client
from sqlalchemy import Engine
from twinline.common.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    outbox_pb2,
    outbox_pb2_grpc,
)

from services.common.grpc.audit_servicer import AuditTrailServicer, Witness
from services.common.grpc.auth import AuthenticationServicer, AuthInterceptor
from services.common.grpc.outbox_servicer import OutboxServicer
from services.common.identity.directory import UserDirectory, open_user_directory
from services.common.identity.tokens import TokenIssuer
from services.common.messaging.audit_anchor import witnessed_through_bus
from services.common.messaging.bus import Bus
from services.common.messaging.streams import SourceWatchdog, ensure_site_stream
from services.common.persistence.database import KERNEL_MIGRATIONS, create_database_engine, migrate
from services.common.persistence.outbox import OutboxRelay
from services.common.persistence.writer import Writer
from services.common.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Kernel:
    """What a service's servicers and handlers are built from."""

    settings: Settings
    service_name: str
    engine: Engine
    writer: Writer
    bus: Bus
    relay: OutboxRelay
    directory: UserDirectory
    tokens: TokenIssuer
    # Re-applies stalled cross-site sources; one process per site runs it (the site view).
    watchdogs: list[SourceWatchdog] = field(default_factory=list)

    def audit_witness(self) -> Witness:
        """Reads the newest head of this service's audit trail its site's stream witnessed."""
        return functools.partial(
            witnessed_through_bus, self.bus, self.settings.site, self.service_name
        )


# Adds a service's servicers to the server; returns the full names of the gRPC services added.
Register = Callable[[grpc.aio.Server, Kernel], Sequence[str]]


class Background(Protocol):
    """A task of a service beside its RPCs (an event consumer, a heartbeat)."""

    def start(self) -> object: ...

    async def stop(self) -> None: ...


# The background tasks of a service, built from its kernel.
Backgrounds = Callable[[Kernel], Sequence[Background]]


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def build_kernel(
    settings: Settings, service_name: str, migrations: Sequence[Path], *,
    watch_sources: bool = False,
) -> Kernel:
    engine = create_database_engine(
        settings.database_url_for(service_name), sqlite_synchronous=settings.sqlite_synchronous
    )
    migrate(engine, KERNEL_MIGRATIONS, *migrations)
    writer = Writer(engine, settings.site)
    site = settings.home_site

    watchdogs: list[SourceWatchdog] = []

    async def provision(client: Client) -> None:
        await ensure_site_stream(client, site, settings.registry)
        if watch_sources and not watchdogs:
            watchdog = SourceWatchdog(client, site, settings.registry)
            watchdog.start()
            watchdogs.append(watchdog)

    bus = Bus(
        settings.nats_url, name=f"{service_name}@{settings.site}", on_connect=provision,
        event_limit=writer.event_limit,
    )
    relay = OutboxRelay(engine, writer, bus, exit_after_publish=settings.fault_exit_after_publish)
    writer.set_on_commit(relay.committed)
    return Kernel(
        settings=settings,
        service_name=service_name,
        engine=engine,
        writer=writer,
        bus=bus,
        relay=relay,
        directory=open_user_directory(settings),
        tokens=TokenIssuer(settings.token_secret(), settings.token_ttl_seconds),
        watchdogs=watchdogs,
    )


class ServiceHost:
    """Runs one service process until SIGTERM or SIGINT."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.server: grpc.aio.Server
        self.health: health.aio.HealthServicer
        self.port = 0
        self._starts: list[Callable[[], object]] = []
        self._stops: list[Callable[[], Awaitable[None]]] = []
        self._relay_watch: asyncio.Task[None] | None = None

    def add_background(
        self, start: Callable[[], object], stop: Callable[[], Awaitable[None]]
    ) -> None:
        """A task of the service (e.g. an event consumer): started after the writer and the
        bus, stopped before them."""
        self._starts.append(start)
        self._stops.append(stop)

    async def start(self, register: Register) -> int:
        kernel = self.kernel
        # grpc.aio binds a server to the running loop, so it is made here, not in __init__.
        self.server = grpc.aio.server(
            # No SO_REUSEPORT: a second process on a taken port must fail, not share it.
            options=[("grpc.so_reuseport", 0)],
            interceptors=[
                AuthInterceptor(
                    kernel.tokens, directory=kernel.directory, site_id=kernel.settings.site
                )
            ]
        )
        self.health = health.aio.HealthServicer()
        names = list(register(self.server, kernel))
        own_names = list(names)  # what this service serves: NOT_SERVING while its relay stalls
        auth_pb2_grpc.add_AuthenticationServiceServicer_to_server(
            AuthenticationServicer(kernel.directory, kernel.tokens), self.server
        )
        audit_pb2_grpc.add_AuditTrailServiceServicer_to_server(
            AuditTrailServicer(kernel.engine, kernel.audit_witness()), self.server,
        )
        outbox_pb2_grpc.add_OutboxServiceServicer_to_server(
            OutboxServicer(
                engine=kernel.engine, relay=kernel.relay, site=kernel.settings.site,
                service=kernel.service_name, stall_seconds=kernel.settings.relay_stall_seconds,
            ),
            self.server,
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names += [
            auth_pb2.DESCRIPTOR.services_by_name["AuthenticationService"].full_name,
            audit_pb2.DESCRIPTOR.services_by_name["AuditTrailService"].full_name,
            outbox_pb2.DESCRIPTOR.services_by_name["OutboxService"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ]
        reflection.enable_server_reflection(names, self.server)
        address = f"{kernel.settings.grpc_host}:{kernel.settings.grpc_port}"
        self.port = self.server.add_insecure_port(address)
        kernel.writer.start()
        kernel.bus.start()
        if kernel.settings.relay_enabled:
            kernel.relay.start()
        for start in self._starts:
            start()
        await self.server.start()
        for name in names:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        if kernel.settings.relay_enabled:
            self._relay_watch = asyncio.get_running_loop().create_task(
                self._watch_relay(own_names), name="relay-watch"
            )
        log.info(
            "%s for %s serving on %s:%d",
            kernel.service_name, kernel.settings.site, kernel.settings.grpc_host, self.port,
        )
        return self.port

    async def stop(self) -> None:
        """Graceful: refuse new calls, finish in-flight ones, flush the outbox, close."""
        kernel = self.kernel
        if self._relay_watch is not None:
            self._relay_watch.cancel()
            await asyncio.gather(self._relay_watch, return_exceptions=True)
        await self.health.enter_graceful_shutdown()
        await self.server.stop(kernel.settings.shutdown_grace_seconds)
        for stop in self._stops:
            await stop()
        if kernel.settings.relay_enabled and kernel.bus.is_connected:
            flushed = await kernel.relay.flush(timeout=kernel.settings.shutdown_grace_seconds)
            if not flushed:
                log.warning("outbox not empty at shutdown; it will be published at next start")
        await kernel.relay.stop()
        for watchdog in kernel.watchdogs:
            await watchdog.stop()
        await kernel.writer.stop()
        await kernel.bus.close()
        kernel.engine.dispose()
        log.info("%s for %s stopped", kernel.service_name, kernel.settings.site)


    async def _watch_relay(self, names: Sequence[str]) -> None:
        """Health of the service's own names follows its relay: a head of the outbox that
        cannot be published for longer than the bound stalls every later event of the site,
        so the service says NOT_SERVING until the relay drains it."""
        bound = self.kernel.settings.relay_stall_seconds
        stalled = False
        while True:
            await asyncio.sleep(min(1.0, bound / 4))
            stall = self.kernel.relay.stall()
            if stall.stalled(bound) == stalled:
                continue
            stalled = not stalled
            if stalled:
                log.error(
                    "outbox relay stalled for %.0f s (%s): health NOT_SERVING",
                    stall.trying_seconds, stall.last_error or "waiting for NATS",
                )
            else:
                log.info("outbox relay publishing again: health SERVING")
            status = (
                health_pb2.HealthCheckResponse.NOT_SERVING if stalled
                else health_pb2.HealthCheckResponse.SERVING
            )
            for name in names:
                await self.health.set(name, status)


def settle_heap() -> None:
    """Moves what start-up built (modules, mappers, compiled statements: long-lived) out of the
    garbage collector's sight. A full collection otherwise walks all of it and stalls the
    process for about 60 ms, seen as the slowest cross-site deliveries (`bench.hops`); after
    this it takes 1-4 ms. Garbage of start-up itself is collected first.
    """
    gc.collect()
    gc.freeze()


async def serve_until_signalled(host: ServiceHost, register: Register) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await host.start(register)
    settle_heap()
    kernel = host.kernel
    print(f"READY {kernel.service_name} {kernel.settings.site} port={host.port}", flush=True)
    await stop.wait()
    await host.stop()


def build_host(
    settings: Settings, service_name: str, migrations: Sequence[Path], *,
    watch_sources: bool = False, background: Backgrounds | None = None,
) -> ServiceHost:
    """The service's kernel and host, its background tasks added (started after the writer
    and the bus, stopped before them)."""
    kernel = build_kernel(settings, service_name, migrations, watch_sources=watch_sources)
    host = ServiceHost(kernel)
    for task in background(kernel) if background is not None else ():
        host.add_background(task.start, task.stop)
    return host


def run_service(
    service_name: str, migrations: Sequence[Path], register: Register, *,
    watch_sources: bool = False, background: Backgrounds | None = None,
) -> None:
    """``python -m services.<name>``: settings from the environment, serve until SIGTERM.

    ``watch_sources``: this process re-applies the site stream's stalled cross-site sources
    (one process per site does).
    """
    configure_logging()
    # A stop that hangs is diagnosed, not guessed at: whoever stops this process sends SIGUSR1
    # before SIGKILL (services/devstack/processes.py), and every thread's stack goes to stderr.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    host = build_host(
        Settings(), service_name, migrations, watch_sources=watch_sources, background=background
    )
    asyncio.run(serve_until_signalled(host, register))
