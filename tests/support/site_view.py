"""One site's view for the site view's integration tests: its consumer and writer on a SQLite
file fed by a real nats-server, and its real servicer on a grpc.aio server with a reader's
token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import nats
from nats.aio.client import Client
from sqlalchemy import Engine, func, select
from twinline.siteview.v1 import site_view_service_pb2_grpc as api_grpc

from services.common.domain.roles import Principal, Role
from services.common.grpc.auth import AuthInterceptor
from services.common.identity.tokens import TokenIssuer
from services.common.messaging.bus import Bus
from services.common.messaging.events import OutboxEvent
from services.common.messaging.streams import ensure_site_stream
from services.common.messaging.subjects import stream_name
from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.tables import InboxRow
from services.common.persistence.writer import Writer
from services.common.sites import Site, SiteRegistry
from services.site_view.__main__ import MIGRATIONS
from services.site_view.events import CONSUMER_NAME, SiteViewConsumer
from services.site_view.servicer import SiteViewServicer
from services.site_view.tables import ReplicaMasterBatchRecordRow, WatermarkRow
from tests.support.replica_events import RECORD_ID, SITE, T0
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.nats_harness import NatsSites, StartNatsSites

APPLIED_WITHIN = 10.0
TRANSIENT = (TimeoutError, nats.errors.Error)
Metadata = tuple[tuple[str, str], ...]
ViewClient = tuple[api_grpc.SiteViewServiceStub, Metadata]
SECRET = "site-view-integration-secret-" + "x" * 32


@dataclass
class View:
    """One site's view: its consumer and writer on a SQLite file, fed by a real nats-server."""

    nats: NatsSites
    site: Site
    engine: Engine
    writer: Writer
    bus: Bus
    consumer: SiteViewConsumer

    async def client(self) -> Client:
        return await self.nats.client(self.site.id)

    async def publish(self, event: OutboxEvent, *, msg_id: str | None = None) -> int:
        """Publishes like the outbox relay; another `msg_id` makes JetStream keep a copy."""
        headers = dict(event.headers)
        if msg_id is not None:
            headers["Nats-Msg-Id"] = msg_id
        js = (await self.client()).jetstream()
        ack = await js.publish(event.subject, event.payload, headers=headers)
        assert not ack.duplicate
        return ack.seq

    def watermark(self, site_id: str = SITE) -> WatermarkRow | None:
        with read_session(self.engine) as session:
            return session.get(WatermarkRow, site_id)

    def replica(self, record_id: str = RECORD_ID, version: int = 1) -> ReplicaMasterBatchRecordRow:
        with read_session(self.engine) as session:
            row = session.get(ReplicaMasterBatchRecordRow, f"{record_id}/v{version}")
        assert row is not None
        return row

    def handled(self, event_id: str) -> int:
        with read_session(self.engine) as session:
            statement = select(func.count()).select_from(InboxRow).where(
                InboxRow.event_id == event_id  # type: ignore[arg-type]
            )
            return int(session.execute(statement).scalar_one())

    async def applied_through(self, sequence: int) -> None:
        """Waits until the view has taken in the stream up to `sequence`, all acked."""

        async def done() -> bool:
            mark = self.watermark()
            if mark is None or mark.stream_sequence < sequence:
                return False
            info = await (await self.client()).jetstream().consumer_info(
                stream_name(self.site.id), CONSUMER_NAME
            )
            return info.num_ack_pending == 0 and info.num_pending == 0

        await wait_until(
            done, APPLIED_WITHIN, message=f"view applied through {sequence}", ignore=TRANSIENT
        )


@asynccontextmanager
async def open_view(start_nats_sites: StartNatsSites, tmp_path: Path) -> AsyncIterator[View]:
    """The view of SITE, on its own nats-server, consuming until the block ends."""
    sites = await start_nats_sites([SITE])
    site = sites.registry.get(SITE)
    engine = create_database_engine(
        f"sqlite:///{tmp_path / 'site_view.db'}", sqlite_synchronous="NORMAL"
    )
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    writer = Writer(engine, site.id)

    async def provision(client: Client) -> None:
        await ensure_site_stream(client, site, sites.registry)

    bus = Bus(sites.url(site.id), name="site_view@test", on_connect=provision)
    consumer = SiteViewConsumer(bus=bus, writer=writer, site=site)
    writer.start()
    bus.start()
    consumer.start()
    # The bus creates the stream on first connect; publishing before that finds no stream.
    await asyncio.wait_for(bus.jetstream(), timeout=APPLIED_WITHIN)
    built = View(sites, site, engine, writer, bus, consumer)
    try:
        yield built
    finally:
        await built.consumer.stop()
        await writer.stop()
        await bus.close()
        engine.dispose()


@asynccontextmanager
async def serving(engine: Engine, *, keep_alive_s: float = 15.0) -> AsyncIterator[ViewClient]:
    """The real servicer on a grpc.aio server over ``engine``, and a client with a token;
    WatchChanges sends a keep-alive after ``keep_alive_s`` without a change."""
    issuer = TokenIssuer(SECRET, ttl_seconds=600)
    server = grpc.aio.server(interceptors=[AuthInterceptor(issuer)])
    api_grpc.add_SiteViewServiceServicer_to_server(
        SiteViewServicer(
            engine=engine, registry=SiteRegistry.load(), clock=lambda: T0,
            keep_alive_s=keep_alive_s,
        ),
        server,
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    # A reader of the other site: any authenticated user of any site may read the view.
    reader = Principal("songdo.op", "Min-jun Park", frozenset({Role.OPERATOR}), "songdo")
    token, _ = issuer.issue(reader)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield api_grpc.SiteViewServiceStub(channel), (("authorization", f"Bearer {token}"),)
    finally:
        await channel.close()
        await server.stop(None)
