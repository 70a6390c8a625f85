"""Two sites on real nats-servers with the leaf link through a proxy the test owns."""

from __future__ import annotations

import asyncio

import grpc
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.client.session import Session
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW
from tests.support.mbr import create, take_to_effective
from tests.support.stack import Stack, stack_fixture
from tests.support.streams import stream_event_ids
from tests.support.waiting import wait_until

# Batch records and the site view are all these tests use.
stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name])

CONVERGE = 20.0


async def view_of(session: Session, site: str) -> dict[str, pb.MasterBatchRecord]:
    """Every record of ``site`` as the session's SiteViewService lists it, by name."""
    stub = session.stub(SiteViewServiceStub)
    records: dict[str, pb.MasterBatchRecord] = {}
    token = ""
    while True:
        answer = await stub.ListMasterBatchRecords(
            view.ListMasterBatchRecordsRequest(site=site, page_size=200, page_token=token),
            metadata=session.metadata,
        )
        records.update({record.name: record for record in answer.master_batch_records})
        token = answer.next_page_token
        if not token:
            return records


async def own_records(session: Session) -> dict[str, pb.MasterBatchRecord]:
    stub = session.stub(MasterBatchRecordServiceStub)
    answer = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(page_size=500), metadata=session.metadata
    )
    return {record.name: record for record in answer.master_batch_records}


async def views_agree(viewer: Session, owner: Session, site: str) -> bool:
    seen, truth = await view_of(viewer, site), await own_records(owner)
    return {n: r.etag for n, r in seen.items()} == {n: r.etag for n, r in truth.items()}


async def test_a_record_approved_at_syracuse_is_listed_at_songdo(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    reviewer = await stack.login("syracuse", "reviewer")
    qa = await stack.login("syracuse", "qa")
    record = await take_to_effective(author, reviewer, qa)
    songdo = await stack.login("songdo", "qa", service=SITE_VIEW.name)

    async def listed_effective() -> bool:
        found = (await view_of(songdo, "syracuse")).get(record.name)
        return found is not None and found.state == pb.MASTER_BATCH_RECORD_STATE_EFFECTIVE

    await wait_until(listed_effective, CONVERGE, message="Songdo lists the effective record")
    listed = (await view_of(songdo, "syracuse"))[record.name]
    assert listed.etag == record.etag
    assert [s.signer for s in listed.signatures] == [s.signer for s in record.signatures]
    marks = await songdo.stub(SiteViewServiceStub).ListWatermarks(
        view.ListWatermarksRequest(), metadata=songdo.metadata
    )
    syracuse_mark = next(mark for mark in marks.watermarks if mark.site == "syracuse")
    assert syracuse_mark.events_applied == 5 and syracuse_mark.stream_sequence > 0


async def test_link_cut_both_sites_keep_writing_and_converge_exactly_once(stack: Stack) -> None:
    syr = await stack.login("syracuse", "author")
    sdo = await stack.login("songdo", "author")
    syr_view = await stack.login("syracuse", "qa", service=SITE_VIEW.name)
    sdo_view = await stack.login("songdo", "qa", service=SITE_VIEW.name)
    await create(syr, "BEFORE-CUT")
    await wait_until(lambda: views_agree(sdo_view, syr, "syracuse"), CONVERGE,
                     message="converged before the cut")

    stack.nats.proxy.cut()
    written = [await create(syr, f"SYR-DURING-{i}") for i in range(5)]
    written += [await create(sdo, f"SDO-DURING-{i}") for i in range(5)]
    assert len(written) == 10  # every write accepted while the sites cannot see each other
    seen_at_syracuse = await view_of(syr_view, "songdo")
    assert not any(name.startswith("masterBatchRecords/SDO") for name in seen_at_syracuse)

    stack.nats.proxy.restore()
    await wait_until(lambda: views_agree(sdo_view, syr, "syracuse"), CONVERGE,
                     message="Songdo's view of Syracuse converged")
    await wait_until(lambda: views_agree(syr_view, sdo, "songdo"), CONVERGE,
                     message="Syracuse's view of Songdo converged")
    for site in ("syracuse", "songdo"):
        counts = await stream_event_ids(await stack.nats.client(site), site)
        assert counts and max(counts.values()) == 1, f"{site} stream holds an event twice"
        assert sum(counts.values()) == 11  # 6 at Syracuse + 5 at Songdo, each exactly once


async def test_sigkill_between_commit_and_publish_publishes_exactly_once(stack: Stack) -> None:
    service = stack.service("syracuse", BATCH_RECORDS.name)
    await service.stop()
    await service.start(TWINLINE_RELAY_ENABLED="false")  # commits, never publishes
    author = await stack.login("syracuse", "author")
    record = await create(author, "KILLED-BEFORE-PUBLISH")
    await author.close()
    service.kill()
    await service.start()
    sdo_view = await stack.login("songdo", "qa", service=SITE_VIEW.name)

    async def arrived() -> bool:
        return record.name in await view_of(sdo_view, "syracuse")

    await wait_until(arrived, CONVERGE, message="the event published after the restart")
    counts = await stream_event_ids(await stack.nats.client("syracuse"), "syracuse")
    assert list(counts.values()) == [1]


async def test_crash_after_ack_before_mark_is_not_published_twice(stack: Stack) -> None:
    service = stack.service("syracuse", BATCH_RECORDS.name)
    await service.stop()
    await service.start(TWINLINE_FAULT_EXIT_AFTER_PUBLISH="true")
    author = await stack.login("syracuse", "author")
    try:
        await create(author, "KILLED-AFTER-ACK")
    except grpc.aio.AioRpcError as error:  # it may die before the answer leaves; it committed
        assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert await service.wait_exit(10) == 17
    await service.start()
    author = await stack.login("syracuse", "author")
    assert len(await own_records(author)) == 1
    sdo_view = await stack.login("songdo", "qa", service=SITE_VIEW.name)
    await wait_until(lambda: views_agree(sdo_view, author, "syracuse"), CONVERGE,
                     message="Songdo has the record")
    syracuse = await stack.nats.client("syracuse")

    async def relay_done() -> bool:
        # The restarted relay republishes the unmarked row; JetStream drops it by Nats-Msg-Id.
        return await asyncio.to_thread(_outbox_empty, stack) and bool(
            await stream_event_ids(syracuse, "syracuse")
        )

    await wait_until(relay_done, CONVERGE, message="the outbox is drained")
    counts = await stream_event_ids(syracuse, "syracuse")
    assert list(counts.values()) == [1]


def _count_rows(stack: Stack, table: str) -> int:
    import sqlite3

    database = stack.base_dir / "data" / "syracuse" / "batch_records.db"
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


def _outbox_empty(stack: Stack) -> bool:
    import sqlite3

    database = stack.base_dir / "data" / "syracuse" / "batch_records.db"
    with sqlite3.connect(database) as connection:
        (pending,) = connection.execute(
            "SELECT count(*) FROM outbox WHERE published_time IS NULL"
        ).fetchone()
    return int(pending) == 0


async def test_nats_down_during_writes_events_flow_when_it_is_back(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    sdo_view = await stack.login("songdo", "qa", service=SITE_VIEW.name)
    await stack.nats.server("syracuse").stop()
    written = [await create(author, f"NATS-DOWN-{i}") for i in range(5)]
    assert all(record.state == pb.MASTER_BATCH_RECORD_STATE_DRAFT for record in written)
    assert not await asyncio.to_thread(_outbox_empty, stack)
    await stack.nats.server("syracuse").start()
    await wait_until(lambda: views_agree(sdo_view, author, "syracuse"), CONVERGE,
                     message="events flowed after NATS came back")
    counts = await stream_event_ids(await stack.nats.client("syracuse"), "syracuse")
    assert sorted(counts.values()) == [1] * 5


async def test_sigterm_finishes_in_flight_calls_and_flushes_the_outbox(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    service = stack.service("syracuse", BATCH_RECORDS.name)
    calls = [asyncio.create_task(create(author, f"IN-FLIGHT-{i}")) for i in range(20)]
    await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
    code = await service.stop()
    assert code == 0
    answered = []
    for call in calls:
        try:
            answered.append(await call)
        except grpc.aio.AioRpcError as error:
            # Not yet started when the server closed: refused UNAVAILABLE, or CANCELLED if it
            # had reached the server but no handler had taken it yet (gRPC core's code for
            # that case, grpc/grpc#41785). Its handler never ran: nothing of it was written.
            assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    assert answered
    assert await asyncio.to_thread(_outbox_empty, stack)  # flushed before exit
    counts = await stream_event_ids(await stack.nats.client("syracuse"), "syracuse")
    committed = await asyncio.to_thread(_count_rows, stack, "master_batch_record")
    assert committed >= len(answered)
    assert sorted(counts.values()) == [1] * committed  # every committed change, exactly once


async def test_a_nats_server_back_without_its_store_gets_its_stream_again(stack: Stack) -> None:
    import shutil

    author = await stack.login("syracuse", "author")
    sdo_view = await stack.login("songdo", "qa", service=SITE_VIEW.name)
    server = stack.nats.server("syracuse")
    await server.stop()
    await asyncio.to_thread(shutil.rmtree, server.store_dir)  # the disk was replaced
    await server.start()
    record = await create(author, "AFTER-STORE-LOSS")

    async def arrived() -> bool:
        return record.name in await view_of(sdo_view, "syracuse")

    await wait_until(arrived, CONVERGE, message="the event reached Songdo via a new stream")
