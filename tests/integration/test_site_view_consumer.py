"""The site view's consumer on a real nats-server and a SQLite file: latest state, exactly-once
application, poison messages, restarts; and its gRPC servicer on a real grpc.aio server."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

import grpc
import nats
import pytest
import pytest_asyncio
from google.protobuf import message
from nats.aio.client import Client
from sqlalchemy import Engine, func, select
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.siteview.v1 import site_view_service_pb2_grpc as api_grpc

from services.common.auth import AuthInterceptor
from services.common.bus import Bus
from services.common.clock import to_text
from services.common.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.errors import details_of
from services.common.events import OutboxEvent, ReceivedEvent, decode, new_event
from services.common.identity import Principal, Role
from services.common.sites import Site, SiteRegistry
from services.common.streams import ensure_site_stream
from services.common.subjects import event_subject, stream_name
from services.common.tables import InboxRow
from services.common.tokens import TokenIssuer
from services.common.unit_of_work import Writer
from services.site_view import handlers, queries
from services.site_view.__main__ import MIGRATIONS
from services.site_view.events import CONSUMER_NAME, SiteViewConsumer
from services.site_view.servicer import SiteViewServicer
from services.site_view.tables import ReplicaMasterBatchRecordRow, WatermarkRow
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.nats_harness import NatsSites, StartNatsSites

pytestmark = pytest.mark.timeout(60)

SITE = "syracuse"
RECORD_ID = "SYR-MBR-000001"
T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
APPLIED_WITHIN = 10.0
TRANSIENT = (TimeoutError, nats.errors.Error)


def record(
    revision: int, state: pb.MasterBatchRecordState.ValueType, *, record_id: str = RECORD_ID,
    version: int = 1, home_site: str = SITE,
) -> pb.MasterBatchRecord:
    return pb.MasterBatchRecord(
        name=f"masterBatchRecords/{record_id}/versions/{version}", record_id=record_id,
        version=version, home_site=home_site, state=state, etag=f"{version}-{revision}",
        product="ADC-7 drug substance", title="Conjugation of mAb-7 with vcMMAE",
    )


def mbr_event(
    payload: message.Message, suffix: str, time: datetime, *, site: str = SITE
) -> OutboxEvent:
    name = payload.master_batch_record.name  # type: ignore[attr-defined]
    return new_event(
        subject=event_subject(site, "batchrecords", "master_batch_record", suffix),
        payload=payload, source=f"twinline/{site}/batch_records", ce_subject=name, time=time,
    )


def created(
    revision: int, time: datetime, *, record_id: str = RECORD_ID, version: int = 1
) -> OutboxEvent:
    draft = record(
        revision, pb.MASTER_BATCH_RECORD_STATE_DRAFT, record_id=record_id, version=version
    )
    payload = mbr_events.MasterBatchRecordCreated(master_batch_record=draft)
    return mbr_event(payload, "created", time)


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


@pytest_asyncio.fixture
async def view(start_nats_sites: StartNatsSites, tmp_path: Path) -> AsyncIterator[View]:
    sites = await start_nats_sites([SITE])
    site = sites.registry.get(SITE)
    engine = create_database_engine(
        f"sqlite:///{tmp_path / 'site_view.db'}", sqlite_synchronous="NORMAL"
    )
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    writer = Writer(engine, site.id)

    async def provision(client: Client) -> None:
        await ensure_site_stream(client, site, sites.registry)

    bus = Bus(sites.url(site.id), name="site_view@test", on_first_connect=provision)
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


async def test_latest_state_is_kept_and_a_duplicate_is_applied_once(view: View) -> None:
    first = created(1, T0)
    approved = mbr_event(
        mbr_events.MasterBatchRecordApproved(
            master_batch_record=record(3, pb.MASTER_BATCH_RECORD_STATE_APPROVED)
        ),
        "approved", T0 + timedelta(seconds=2),
    )
    # Arrives after the approval it preceded: must not take the view back.
    late_submitted = mbr_event(
        mbr_events.MasterBatchRecordSubmitted(
            master_batch_record=record(2, pb.MASTER_BATCH_RECORD_STATE_IN_REVIEW)
        ),
        "submitted", T0 + timedelta(seconds=1),
    )

    await view.publish(first)
    await view.publish(approved)
    # The same event again, as a relay retrying after the duplicate window would publish it.
    await view.publish(first, msg_id=str(uuid4()))
    last = await view.publish(late_submitted)
    await view.applied_through(last)

    row = view.replica()
    assert (row.state, row.revision, row.home_site) == ("approved", 3, SITE)
    assert pb.MasterBatchRecord.FromString(row.document).etag == "1-3"
    with read_session(view.engine) as session:
        listed = queries.page(session, queries.RecordFilter(), after=None, size=10)
    assert [found.etag for _, found in listed] == ["1-3"]
    assert view.handled(first.event_id) == 1
    mark = view.watermark()
    assert mark is not None
    # Three distinct events (the duplicate is not one); time never goes back for the late one.
    assert (mark.events_applied, mark.stream_sequence) == (3, last)
    assert mark.last_event_time == "2025-03-04T09:00:02.000000Z"


async def test_undecodable_messages_are_acked_and_skipped(view: View) -> None:
    js = (await view.client()).jetstream()
    subject = event_subject(SITE, "batchrecords", "master_batch_record", "created")
    await js.publish(subject, b"no headers at all")
    unknown_type = {
        "ce-type": "twinline.events.v1.NoSuchEvent", "ce-id": str(uuid4()), "ce-time": to_text(T0)
    }
    await js.publish(subject, b"\x00", headers=unknown_type)
    good = created(1, T0)
    last = await view.publish(good)

    await view.applied_through(last)

    assert view.handled(good.event_id) == 1
    mark = view.watermark()
    assert mark is not None and mark.events_applied == 1


async def test_the_view_catches_up_after_nats_restarts(view: View) -> None:
    await view.applied_through(await view.publish(created(1, T0)))

    await view.nats.server(SITE).restart()
    update = mbr_event(
        mbr_events.MasterBatchRecordUpdated(
            master_batch_record=record(2, pb.MASTER_BATCH_RECORD_STATE_DRAFT),
            updated_paths=["title"],
        ),
        "updated", T0 + timedelta(seconds=1),
    )
    last = await wait_until(
        lambda: view.publish(update), APPLIED_WITHIN, message="publish after restart",
        ignore=TRANSIENT,
    )
    await view.applied_through(last)

    assert view.replica().revision == 2
    mark = view.watermark()
    assert mark is not None and mark.events_applied == 2


async def test_a_new_consumer_process_resumes_where_the_last_one_stopped(view: View) -> None:
    await view.applied_through(await view.publish(created(1, T0)))
    await view.consumer.stop()
    second = created(1, T0, record_id="SYR-MBR-000002")
    last = await view.publish(second)

    view.consumer = SiteViewConsumer(bus=view.bus, writer=view.writer, site=view.site)
    view.consumer.start()
    await view.applied_through(last)

    mark = view.watermark()
    assert mark is not None and mark.events_applied == 2
    info = await (await view.client()).jetstream().consumer_info(
        stream_name(SITE), CONSUMER_NAME
    )
    # Nothing was delivered a second time: the durable consumer kept its position.
    assert info.num_redelivered == 0 and info.delivered.stream_seq == last


# The servicer, on events applied straight through the handler (the two-site flow is e2e).

Metadata = tuple[tuple[str, str], ...]
SECRET = "site-view-integration-secret-" + "x" * 32
counter = itertools.count(1)


def received(event: OutboxEvent) -> ReceivedEvent:
    return decode(event.subject, event.headers, event.payload, next(counter))


@pytest_asyncio.fixture
async def stub(tmp_path: Path) -> AsyncIterator[tuple[api_grpc.SiteViewServiceStub, Metadata]]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'site_view.db'}")
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    writer = Writer(engine, SITE)
    writer.start()
    events = [
        created(1, T0, record_id="SYR-MBR-000001"),
        created(1, T0, record_id="SYR-MBR-000001", version=2),
        created(1, T0, record_id="SYR-MBR-000002"),
    ]
    songdo = record(1, pb.MASTER_BATCH_RECORD_STATE_DRAFT, record_id="SDO-MBR-000001",
                    home_site="songdo")
    events.append(
        mbr_event(mbr_events.MasterBatchRecordCreated(master_batch_record=songdo), "created",
                  T0, site="songdo")
    )
    batch = [handlers.replica_event(received(event)) for event in events]
    await writer.run(lambda uow: handlers.apply_events(uow, batch))
    issuer = TokenIssuer(SECRET, ttl_seconds=600)
    server = grpc.aio.server(interceptors=[AuthInterceptor(issuer)])
    api_grpc.add_SiteViewServiceServicer_to_server(
        SiteViewServicer(engine=engine, registry=SiteRegistry.load(), clock=lambda: T0), server
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
        await writer.stop()
        engine.dispose()


async def test_servicer_lists_gets_and_reports_watermarks(
    stub: tuple[api_grpc.SiteViewServiceStub, Metadata],
) -> None:
    client, auth = stub
    everything = await client.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(), metadata=auth
    )
    assert [r.name for r in everything.master_batch_records] == [
        "masterBatchRecords/SDO-MBR-000001/versions/1",
        "masterBatchRecords/SYR-MBR-000001/versions/1",
        "masterBatchRecords/SYR-MBR-000001/versions/2",
        "masterBatchRecords/SYR-MBR-000002/versions/1",
    ]
    first = await client.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(site=SITE, page_size=2), metadata=auth
    )
    rest = await client.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(site=SITE, page_size=2, page_token=first.next_page_token),
        metadata=auth,
    )
    assert [r.record_id for r in first.master_batch_records] == [RECORD_ID, RECORD_ID]
    assert [r.record_id for r in rest.master_batch_records] == ["SYR-MBR-000002"]
    assert rest.next_page_token == ""

    latest = await client.GetMasterBatchRecord(
        api.GetMasterBatchRecordRequest(name=f"masterBatchRecords/{RECORD_ID}/versions/latest"),
        metadata=auth,
    )
    assert latest.master_batch_record.version == 2
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await client.GetMasterBatchRecord(
            api.GetMasterBatchRecordRequest(name="masterBatchRecords/SDO-MBR-000009/versions/1"),
            metadata=auth,
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert details_of(missing.value)["reason"] == "MASTER_BATCH_RECORD_NOT_FOUND"

    marks = (await client.ListWatermarks(api.ListWatermarksRequest(), metadata=auth)).watermarks
    by_site = {mark.site: mark for mark in marks}
    assert set(by_site) == {"syracuse", "songdo"}
    assert (by_site["syracuse"].events_applied, by_site["songdo"].events_applied) == (3, 1)
    assert by_site["songdo"].last_event_time.ToDatetime(tzinfo=UTC) == T0

    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await client.ListWatermarks(api.ListWatermarksRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
