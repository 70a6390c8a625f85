"""The site view's consumer on a real nats-server and a SQLite file: latest state, exactly-once
application, poison messages, restarts; its gRPC servicer on a real grpc.aio server; and the
executed batches read through both — steps, exceptions, deviations and lot genealogy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import grpc
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from twinline.batchrecords.v1 import batch_pb2 as batch_pb
from twinline.batchrecords.v1 import equipment_service_pb2
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.events.v1 import batch_events_pb2 as batch_events
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.siteview.v1 import site_view_service_pb2_grpc as api_grpc

from services.common.domain.clock import to_text
from services.common.grpc import paging
from services.common.grpc.status import details_of
from services.common.messaging.events import new_event
from services.common.messaging.subjects import event_subject, stream_name
from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.tables import InboxRow
from services.common.persistence.writer import Writer
from services.site_view import domain, handlers, queries
from services.site_view.__main__ import MIGRATIONS
from services.site_view.events import CONSUMER_NAME, SiteViewConsumer
from services.site_view.heartbeat import HeartbeatPublisher
from services.site_view.tables import ReplicaBatchRow, WatermarkRow
from tests.support.replica_events import (
    BATCH_ID,
    BUFFER,
    BUFFER_CORRECTED,
    MAB,
    RECORD_ID,
    REVISIONS,
    SITE,
    T0,
    TCEP,
    TCEP_ADDED,
    batch_at,
    batch_created,
    batch_event,
    created,
    mbr_event,
    quantity,
    received,
    record,
    step,
    step_recorded,
)
from tests.support.site_view import (
    APPLIED_WITHIN,
    TRANSIENT,
    Metadata,
    View,
    ViewClient,
    open_view,
    serving,
)
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.nats_harness import StartNatsSites

pytestmark = pytest.mark.timeout(60)

@pytest_asyncio.fixture
async def view(start_nats_sites: StartNatsSites, tmp_path: Path) -> AsyncIterator[View]:
    async with open_view(start_nats_sites, tmp_path) as built:
        yield built



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


async def test_a_heartbeat_moves_the_watermark_but_is_no_event_and_takes_no_inbox_row(
    view: View,
) -> None:
    last = await view.publish(created(1, T0))
    await view.applied_through(last)
    beat_time = T0 + timedelta(hours=1)
    publisher = HeartbeatPublisher(
        bus=view.bus, site=view.site, interval=timedelta(seconds=5), clock=lambda: beat_time
    )
    await publisher.publish_once()
    await publisher.publish_once()  # a second one at the same time: changes nothing more

    def heard() -> WatermarkRow | None:
        mark = view.watermark()
        return mark if mark is not None and mark.last_heartbeat_time is not None else None

    mark = await wait_until(heard, APPLIED_WITHIN, message="the heartbeat was taken in")
    assert mark.last_heartbeat_time == "2025-03-04T10:00:00.000000Z"
    assert mark.origin_last_sequence == last  # the stream's high-water mark when it was sent
    assert mark.heartbeat_interval_us == 5_000_000
    assert (mark.events_applied, mark.stream_sequence) == (1, last)
    with read_session(view.engine) as session:
        assert session.execute(select(func.count()).select_from(InboxRow)).scalar_one() == 1
        (marked,) = queries.watermarks(session, [SITE])
    now = beat_time + timedelta(seconds=2)
    assert domain.lag(marked, now) == timedelta(seconds=2) and domain.is_current(marked, now)


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

@pytest_asyncio.fixture
async def stub(tmp_path: Path) -> AsyncIterator[ViewClient]:
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
    try:
        async with serving(engine) as client:
            yield client
    finally:
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


async def test_view_list_pages_end_at_the_byte_budget(
    stub: tuple[api_grpc.SiteViewServiceStub, Metadata], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page stops at its byte budget (here: one record's worth) before its size; paging
    returns the same records in the same order."""
    client, auth = stub
    everything = await client.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(), metadata=auth
    )
    monkeypatch.setattr(paging, "PAGE_BYTES", 1)
    paged, request = [], api.ListMasterBatchRecordsRequest(page_size=10)
    while True:
        page = await client.ListMasterBatchRecords(request, metadata=auth)
        assert len(page.master_batch_records) == 1
        paged += [record.name for record in page.master_batch_records]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert paged == [record.name for record in everything.master_batch_records]


# Executed batches: the same consumer and servicer, the batch events of issue 3.

async def test_songdo_reads_the_newest_batch_and_its_genealogy(view: View) -> None:
    first = batch_created(REVISIONS[1])
    newest = batch_event(
        batch_events.BatchDeviationChanged(batch=REVISIONS[4], deviation_id="DEV-1"),
        "deviation_updated", T0 + timedelta(minutes=3),
    )
    equipment = new_event(
        subject=event_subject(SITE, "batchrecords", "equipment", "set"),
        payload=batch_events.EquipmentSet(
            equipment=equipment_service_pb2.Equipment(equipment_id="R-201")
        ),
        source=f"twinline/{SITE}/batch_records", ce_subject="equipment/R-201",
        time=T0 + timedelta(minutes=4),
    )
    second = step_recorded(REVISIONS[2], T0 + timedelta(minutes=1))
    # Applied in steps, so that each newer or older revision meets a stored one (within one
    # fetch the newest wins before anything is stored).
    await view.publish(first)
    await view.applied_through(await view.publish(second))
    newest_sequence = await view.publish(newest)
    # The same event again, as a relay retrying after the duplicate window would publish it.
    await view.publish(second, msg_id=str(uuid4()))
    await view.applied_through(newest_sequence)  # and nothing left pending: the copy too
    # Arrives after revision 4 (sourcing across sites does not keep order): must not win, nor
    # bring back the buffer lot that revision 4 no longer has.
    await view.publish(step_recorded(REVISIONS[3], T0 + timedelta(minutes=2)))
    last = await view.publish(equipment)
    await view.applied_through(last)

    async with serving(view.engine) as (client, auth):
        got = (await client.GetBatch(
            api.GetBatchRequest(name=f"batches/{BATCH_ID}"), metadata=auth
        )).batch
        listed = await client.ListBatches(api.ListBatchesRequest(), metadata=auth)
        consumed = {
            lot: (await client.ListBatchesConsumingLot(
                api.ListBatchesConsumingLotRequest(lot_id=lot), metadata=auth
            )).consumptions
            for lot in (TCEP, BUFFER, BUFFER_CORRECTED, MAB)
        }

    assert got == REVISIONS[4]
    assert (got.etag, got.state) == ("4", batch_pb.BATCH_STATE_ON_HOLD)
    assert [(s.step_id, s.status) for s in got.steps] == [
        ("S1", batch_pb.STEP_STATUS_COMPLETE), ("S2", batch_pb.STEP_STATUS_EXECUTED)
    ]
    assert [e.id for e in got.exceptions] == ["EX-1"]
    assert got.deviations[0].investigation == "chiller setpoint drift"
    assert [found.etag for found in listed.batches] == ["4"]
    assert listed.next_page_token == ""

    assert consumed[TCEP] == [
        api.LotConsumption(
            batch=f"batches/{BATCH_ID}", home_site=SITE, step_id="S1", material="TCEP-0.5M",
            quantity=quantity("12.5", "mL"), batch_state=batch_pb.BATCH_STATE_ON_HOLD,
        )
    ]
    assert consumed[BUFFER] == []
    assert [(c.step_id, c.material) for c in consumed[BUFFER_CORRECTED]] == [("S1", "PBS")]
    assert [(c.step_id, c.quantity.value) for c in consumed[MAB]] == [("S2", "4.000")]

    mark = view.watermark()
    assert mark is not None
    # Five distinct events, the equipment register's among them; the duplicate is not one.
    assert (mark.events_applied, mark.stream_sequence) == (5, last)
    assert view.handled(second.event_id) == 1


async def test_a_fetch_that_fails_midway_leaves_nothing_behind(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_database_engine(database_url)
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    writer = Writer(engine, SITE)
    writer.start()
    event = step_recorded(REVISIONS[2], T0)
    applied = [handlers.replica_event(received(event))]

    def broken(found: batch_pb.Batch) -> list[dict[str, object]]:
        raise RuntimeError("the lots of the batch could not be written")

    try:
        # Fails after the inbox, the watermark and the batch row were written.
        monkeypatch.setattr(handlers, "_material_rows", broken)
        with pytest.raises(RuntimeError):
            await writer.run(lambda uow: handlers.apply_events(uow, applied))
        with read_session(engine) as session:
            assert session.get(WatermarkRow, SITE) is None
            assert session.get(ReplicaBatchRow, BATCH_ID) is None
        monkeypatch.undo()
        # So the redelivery is not dropped as done, and takes the batch in whole.
        assert await writer.run(lambda uow: handlers.apply_events(uow, applied)) == 1
        with read_session(engine) as session:
            assert queries.lot_consumptions(session, TCEP)[0][1].batch_id == BATCH_ID
    finally:
        await writer.stop()
        engine.dispose()


# Batch listing, filters, paging and refusals, on events applied straight through the handler.


@pytest_asyncio.fixture
async def batch_client(database_url: str) -> AsyncIterator[ViewClient]:
    engine = create_database_engine(database_url)
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    writer = Writer(engine, SITE)
    writer.start()
    mab_lot = ("MAB-7", MAB, "2.0", "kg")
    events = [
        step_recorded(batch_at(2, batch_pb.BATCH_STATE_IN_PROGRESS, [step("S1", TCEP_ADDED)]), T0),
        # Older than the one before it in the same fetch: the newest must win there too.
        batch_created(batch_at(1, batch_pb.BATCH_STATE_CREATED, [])),
        batch_created(batch_at(1, batch_pb.BATCH_STATE_CREATED, [], batch_id="SYR-B-2026-00043")),
        step_recorded(
            batch_at(
                5, batch_pb.BATCH_STATE_COMPLETED, [step("S1", mab_lot), step("S2", mab_lot)],
                batch_id="SDO-B-2026-00007", home_site="songdo",
            ),
            T0,
        ),
    ]
    applied = [handlers.replica_event(received(event)) for event in events]
    await writer.run(lambda uow: handlers.apply_events(uow, applied))
    try:
        async with serving(engine) as served:
            yield served
    finally:
        await writer.stop()
        engine.dispose()


async def test_batches_list_by_site_and_state_and_page(
    batch_client: ViewClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub, auth = batch_client

    async def names(request: api.ListBatchesRequest) -> list[str]:
        pages: list[str] = []
        while True:
            page = await stub.ListBatches(request, metadata=auth)
            pages += [found.name for found in page.batches]
            if not page.next_page_token:
                return pages
            request.page_token = page.next_page_token

    every = ["batches/SDO-B-2026-00007", "batches/SYR-B-2026-00042", "batches/SYR-B-2026-00043"]
    assert await names(api.ListBatchesRequest()) == every
    assert await names(api.ListBatchesRequest(page_size=1)) == every
    assert await names(api.ListBatchesRequest(site=SITE)) == every[1:]
    in_progress = api.ListBatchesRequest(state=batch_pb.BATCH_STATE_IN_PROGRESS)
    assert await names(in_progress) == ["batches/SYR-B-2026-00042"]
    # A page stops at its byte budget before its size, and the next page goes on from there.
    monkeypatch.setattr(paging, "PAGE_BYTES", 1)
    first = await stub.ListBatches(api.ListBatchesRequest(page_size=10), metadata=auth)
    assert len(first.batches) == 1 and first.next_page_token
    assert await names(api.ListBatchesRequest(page_size=10)) == every


async def test_a_lot_is_traced_to_the_batches_of_both_sites(
    batch_client: ViewClient,
) -> None:
    stub, auth = batch_client
    found = (await stub.ListBatchesConsumingLot(
        api.ListBatchesConsumingLotRequest(lot_id=MAB), metadata=auth
    )).consumptions
    assert [(c.batch, c.home_site, c.step_id, c.batch_state) for c in found] == [
        ("batches/SDO-B-2026-00007", "songdo", "S1", batch_pb.BATCH_STATE_COMPLETED),
        ("batches/SDO-B-2026-00007", "songdo", "S2", batch_pb.BATCH_STATE_COMPLETED),
    ]
    unknown = await stub.ListBatchesConsumingLot(
        api.ListBatchesConsumingLotRequest(lot_id="L-NEVER-USED"), metadata=auth
    )
    assert list(unknown.consumptions) == [] and not unknown.next_page_token

    # One per page: the same consumptions, in the same order, and a token per page but the last.
    paged, request = [], api.ListBatchesConsumingLotRequest(lot_id=MAB, page_size=1)
    while True:
        page = await stub.ListBatchesConsumingLot(request, metadata=auth)
        paged += [(c.batch, c.step_id) for c in page.consumptions]
        assert len(page.consumptions) == 1
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert paged == [(c.batch, c.step_id) for c in found]
    # A page token serves only the lot it was made for.
    first = await stub.ListBatchesConsumingLot(
        api.ListBatchesConsumingLotRequest(lot_id=MAB, page_size=1), metadata=auth
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListBatchesConsumingLot(
            api.ListBatchesConsumingLotRequest(
                lot_id="L-NEVER-USED", page_token=first.next_page_token
            ),
            metadata=auth,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details_of(refused.value)["fields"] == ["page_token"]  # a good token, of MAB


BatchCall = Callable[[api_grpc.SiteViewServiceStub, Metadata], Awaitable[Any]]


@pytest.mark.parametrize(
    ("call", "code", "reason"),
    [
        (lambda stub, auth: stub.GetBatch(
            api.GetBatchRequest(name="batches/SYR-B-2026-09999"), metadata=auth
        ), grpc.StatusCode.NOT_FOUND, "BATCH_NOT_FOUND"),
        (lambda stub, auth: stub.GetBatch(
            api.GetBatchRequest(name="SYR-B-2026-00042"), metadata=auth
        ), grpc.StatusCode.INVALID_ARGUMENT, None),
        (lambda stub, auth: stub.ListBatches(
            api.ListBatchesRequest(page_token="bm90IGEgdG9rZW4"), metadata=auth
        ), grpc.StatusCode.INVALID_ARGUMENT, None),
        (lambda stub, auth: stub.ListBatchesConsumingLot(
            api.ListBatchesConsumingLotRequest(), metadata=auth
        ), grpc.StatusCode.INVALID_ARGUMENT, None),
        (lambda stub, auth: stub.ListBatches(api.ListBatchesRequest()),
         grpc.StatusCode.UNAUTHENTICATED, None),
    ],
    ids=["unknown batch", "bad name", "bad page token", "no lot id", "anonymous"],
)
async def test_batch_reads_are_refused(
    batch_client: ViewClient, call: BatchCall,
    code: grpc.StatusCode, reason: str | None,
) -> None:
    stub, auth = batch_client
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(stub, auth)
    assert refused.value.code() == code
    if reason is not None:
        assert details_of(refused.value)["reason"] == reason
