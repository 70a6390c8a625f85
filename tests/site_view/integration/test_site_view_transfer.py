"""Transfer packages and per-site effectivity of master records in the site view: both sites'
events taken in by the view's handler on a real SQLite file, out of order and repeated (each
part of a package from its own site's events, the newest by its own etag), then listed and got
through the real servicer on a grpc.aio server; the checksum and WatchChanges cover them."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from sqlalchemy import Engine
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.techtransfer.v1 import transfer_pb2 as transfer_pb

from services.common.domain.clock import to_text
from services.common.grpc.status import details_of
from services.common.messaging.events import OutboxEvent
from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.writer import Writer
from services.site_view import handlers
from services.site_view.__main__ import MIGRATIONS
from services.site_view.checksum import REPLICA_TABLES, table_checksum, view_checksum
from services.site_view.tables import ReplicaTransferPackageRow
from tests.support.replica_events import (
    PACKAGE_ID,
    RECEIVING_SITE,
    RECORD_ID,
    SITE,
    T0,
    effective_by_transfer,
    mbr_event,
    package_at,
    receipt_at,
    received,
    record,
    transfer_event,
)
from tests.support.site_view import ViewClient, serving

pytestmark = pytest.mark.timeout(60)

NAME = f"transferPackages/{PACKAGE_ID}"
V2 = f"masterBatchRecords/{RECORD_ID}/versions/2"
V3 = f"masterBatchRecords/{RECORD_ID}/versions/3"
at = [T0 + timedelta(minutes=minute) for minute in range(20)]
DRAFT, SENT = transfer_pb.TRANSFER_STATE_DRAFT, transfer_pb.TRANSFER_STATE_SENT
RECEIVED, UNDER_REVIEW = transfer_pb.RECEIPT_STATE_RECEIVED, transfer_pb.RECEIPT_STATE_UNDER_REVIEW
ACCEPTED, RETURNED = transfer_pb.RECEIPT_STATE_ACCEPTED, transfer_pb.RECEIPT_STATE_RETURNED
COMMENTS = "add the DMSO water limit"

# Syracuse's events: its part (and a receipt as Syracuse holds it, which the view must not take:
# its etag is the highest of all, and it is not Syracuse's to write).
ALIEN_RECEIPT = receipt_at(99, 1, RETURNED, "as Syracuse holds it")
SENDER = {
    1: transfer_event(package_at(1, 1, DRAFT), "package", "created", at[0]),
    2: transfer_event(package_at(2, 1, SENT), "package", "sent", at[1]),
    3: transfer_event(package_at(3, 2, DRAFT, receipt=ALIEN_RECEIPT, notes="revision 2"),
                      "package", "revised", at[5]),
    4: transfer_event(package_at(4, 2, SENT, receipt=ALIEN_RECEIPT, notes="revision 2"),
                      "package", "sent", at[6]),
}


def songdo(receipt: transfer_pb.Receipt, suffix: str, minute: int) -> OutboxEvent:
    """Songdo's event: the receipt, with the sender's part as Songdo holds it (not taken
    either, though its etag is the highest of all)."""
    held = package_at(99, receipt.revision, SENT, receipt=receipt, notes="as Songdo holds it")
    return transfer_event(held, "receipt", suffix, at[minute])


RECEIPT = {
    1: songdo(receipt_at(1, 1, RECEIVED), "received", 2),
    2: songdo(receipt_at(2, 1, UNDER_REVIEW), "review_started", 3),
    3: songdo(receipt_at(3, 1, RETURNED, COMMENTS), "returned", 4),
    4: songdo(receipt_at(4, 2, RECEIVED), "received", 7),
    5: songdo(receipt_at(5, 2, UNDER_REVIEW), "review_started", 8),
    6: songdo(receipt_at(6, 2, ACCEPTED), "accepted", 9),
}
EVERY_EVENT = [*SENDER.values(), *RECEIPT.values()]


def republished(event: OutboxEvent, time: datetime | None = None) -> OutboxEvent:
    """A copy of ``event`` under another id (published again, not redelivered): the inbox
    does not know it."""
    event_id = f"{event.event_id}-copy"
    time = time or event.time
    headers = {**event.headers, "ce-id": event_id, "Nats-Msg-Id": event_id,
               "ce-time": to_text(time)}
    return OutboxEvent(event_id, event.subject, event.event_type, time, headers, event.payload)


def new_engine(database: Path) -> Engine:
    engine = create_database_engine(f"sqlite:///{database}", sqlite_synchronous="NORMAL")
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    return engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = new_engine(tmp_path / "site_view.db")
    yield engine
    engine.dispose()


@pytest_asyncio.fixture
async def writer(engine: Engine) -> AsyncIterator[Writer]:
    writer = Writer(engine, SITE, clock=lambda: T0)
    writer.start()
    yield writer
    await writer.stop()


@pytest_asyncio.fixture
async def client(engine: Engine) -> AsyncIterator[ViewClient]:
    async with serving(engine, keep_alive_s=0.5) as served:
        yield served


def taken(events: Sequence[OutboxEvent]) -> list[handlers.ReplicaEvent]:
    """The events as the consumer reads them from the stream, each at its own sequence."""
    return [handlers.replica_event(received(event)) for event in events]


async def apply(writer: Writer, events: Sequence[OutboxEvent], *, fetched: int = 256) -> int:
    """Takes the events in, ``fetched`` to a transaction, as the consumer fetches them."""
    items, applied = taken(events), 0
    for start in range(0, len(items), fetched):
        group = items[start:start + fetched]
        applied += await writer.run(lambda uow, group=group: handlers.apply_events(uow, group))
    return applied


async def package(client: ViewClient, name: str = NAME) -> transfer_pb.TransferPackage:
    stub, auth = client
    got = await stub.GetTransferPackage(api.GetTransferPackageRequest(name=name), metadata=auth)
    return got.transfer_package


# --- the package, merged from both sites' events -------------------------------------------


@pytest.mark.parametrize("order", ["in order", "reversed", "shuffled", "one at a time"])
async def test_each_part_is_the_newest_from_its_own_sites_events_whatever_the_order(
    writer: Writer, client: ViewClient, order: str
) -> None:
    events = list(EVERY_EVENT)
    if order == "reversed":
        events.reverse()
    elif order == "shuffled":
        random.Random(12).shuffle(events)
    # Every event twice (the second copies under new ids: republished, not redelivered).
    copies = [republished(event) for event in events]
    fetched = 1 if order == "one at a time" else 5
    assert await apply(writer, [*events, *copies], fetched=fetched) == 2 * len(events)
    got = await package(client)
    # The sender's part of Syracuse's newest event (etag 4), not Songdo's copy (etag 99).
    assert (got.etag, got.revision, got.notes) == ("4", 2, "revision 2")
    # The receipt of Songdo's newest event (etag 6), not Syracuse's copy (etag 99).
    assert (got.receipt.etag, got.receipt.revision, got.receipt.state) == ("6", 2, ACCEPTED)
    assert got.state == transfer_pb.TRANSFER_STATE_ACCEPTED
    assert got.master_batch_record.name == V2


async def test_the_same_events_in_any_order_leave_the_same_row(tmp_path: Path) -> None:
    table = next(t for t in REPLICA_TABLES if t.name == "replica_transfer_package")
    digests = set()
    for seed in range(3):
        events = list(EVERY_EVENT)
        random.Random(seed).shuffle(events)
        engine = new_engine(tmp_path / f"view-{seed}.db")
        writer = Writer(engine, SITE, clock=lambda: T0)
        writer.start()
        try:
            await apply(writer, events, fetched=3)
        finally:
            await writer.stop()
        with read_session(engine) as session:
            digests.add(table_checksum(session, table))
        engine.dispose()
    assert len(digests) == 1
    assert next(iter(digests)).rows == 1


async def test_the_state_is_the_newest_known_step_by_step(
    writer: Writer, client: ViewClient, engine: Engine
) -> None:
    steps = [
        (SENDER[1], transfer_pb.TRANSFER_STATE_DRAFT),
        (SENDER[2], transfer_pb.TRANSFER_STATE_SENT),
        (RECEIPT[1], transfer_pb.TRANSFER_STATE_RECEIVED),
        (RECEIPT[2], transfer_pb.TRANSFER_STATE_UNDER_REVIEW),
        (RECEIPT[3], transfer_pb.TRANSFER_STATE_RETURNED),
        # Revision 2 is a draft again: the receipt held is of revision 1.
        (SENDER[3], transfer_pb.TRANSFER_STATE_DRAFT),
        (SENDER[4], transfer_pb.TRANSFER_STATE_SENT),
        (RECEIPT[4], transfer_pb.TRANSFER_STATE_RECEIVED),
    ]
    for event, state in steps:
        await apply(writer, [event])
        assert (await package(client)).state == state, event.subject
    got = await package(client)
    # Revision 1's return, as Songdo wrote it, was replaced by revision 2's receipt.
    assert (got.receipt.revision, got.receipt.comments) == (2, "")
    with read_session(engine) as session:
        row = session.get(ReplicaTransferPackageRow, PACKAGE_ID)
    assert row is not None
    assert (row.state, row.sender_version, row.revision, row.sent) == ("received", 4, 2, True)
    assert (row.receipt_version, row.receipt_revision, row.receipt_state) == (4, 2, "received")
    assert (row.sender_event_time, row.receipt_event_time) == (
        "2025-03-04T09:06:00.000000Z", "2025-03-04T09:07:00.000000Z"
    )


async def test_a_receipt_before_any_sender_event_is_held_and_shown(
    writer: Writer, client: ViewClient
) -> None:
    await apply(writer, [RECEIPT[2]])
    got = await package(client)
    # Nothing of the sender's part yet but who sends to whom: its etag is empty.
    assert (got.etag, got.revision, got.notes, got.sending_site, got.receiving_site) == (
        "", 0, "", SITE, RECEIVING_SITE
    )
    assert (got.receipt.etag, got.state) == ("2", transfer_pb.TRANSFER_STATE_UNDER_REVIEW)
    # A late sender event of the same revision: the receipt is still the newer news.
    await apply(writer, [SENDER[2]])
    got = await package(client)
    assert (got.etag, got.state) == ("2", transfer_pb.TRANSFER_STATE_UNDER_REVIEW)
    # Revision 2's receipt before revision 2's sender events: the receipt is the newest known.
    await apply(writer, [RECEIPT[4]])
    got = await package(client)
    assert (got.etag, got.revision, got.receipt.revision, got.state) == (
        "2", 1, 2, transfer_pb.TRANSFER_STATE_RECEIVED
    )


@pytest.mark.parametrize(
    "event",
    [
        # A sender's part published by the receiving site, a receipt by the sending site.
        transfer_event(package_at(5, 2, SENT), "package", "sent", site=RECEIVING_SITE),
        transfer_event(package_at(5, 2, SENT, receipt=receipt_at(7, 2, ACCEPTED)), "receipt",
                       "accepted", site=SITE),
        transfer_event(package_at(5, 2, SENT), "receipt", "received"),  # no receipt
        transfer_event(package_at(0, 1, DRAFT), "package", "created"),  # etag 0
        transfer_event(package_at(1, 1, DRAFT, package_id="SYR-PKG-1"), "package", "created"),
        transfer_event(package_at(1, 1, DRAFT, receiving_site=SITE), "package", "created"),
        transfer_event(package_at(1, 1, DRAFT), "shipment", "created"),
    ],
    ids=["sender part from the receiver", "receipt from the sender", "receipt event without "
         "one", "bad etag", "bad name", "to its own site", "neither part"],
)
def test_a_malformed_package_event_is_refused(event: OutboxEvent) -> None:
    with pytest.raises(ValueError):
        handlers.replica_event(received(event))


# --- listing --------------------------------------------------------------------------------

OTHER_PACKAGES = [
    transfer_event(package_at(1, 1, DRAFT, package_id="SYR-TP-000002"), "package", "created",
                   at[10]),
    transfer_event(package_at(2, 1, SENT, package_id="SDO-TP-000001", sending_site="songdo",
                              receiving_site="syracuse"), "package", "sent", at[11]),
    # Only its receipt came yet.
    transfer_event(package_at(1, 1, SENT, package_id="SDO-TP-000002", sending_site="songdo",
                              receiving_site="syracuse", receipt=receipt_at(1, 1, RECEIVED)),
                   "receipt", "received", at[12]),
]


async def test_packages_are_listed_by_sending_site_and_id_a_page_at_a_time(
    writer: Writer, client: ViewClient
) -> None:
    await apply(writer, [*EVERY_EVENT, *OTHER_PACKAGES])
    stub, auth = client
    everything = await stub.ListTransferPackages(api.ListTransferPackagesRequest(),
                                                 metadata=auth)
    expected = ["transferPackages/SDO-TP-000001", "transferPackages/SDO-TP-000002", NAME,
                "transferPackages/SYR-TP-000002"]
    assert [p.name for p in everything.transfer_packages] == expected
    assert everything.next_page_token == ""
    assert [p.state for p in everything.transfer_packages] == [
        transfer_pb.TRANSFER_STATE_SENT, transfer_pb.TRANSFER_STATE_RECEIVED,
        transfer_pb.TRANSFER_STATE_ACCEPTED, transfer_pb.TRANSFER_STATE_DRAFT,
    ]

    paged, request = [], api.ListTransferPackagesRequest(page_size=1)
    for _ in range(5):
        page = await stub.ListTransferPackages(request, metadata=auth)
        paged += [p.name for p in page.transfer_packages]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert paged == expected

    from_syracuse = await stub.ListTransferPackages(
        api.ListTransferPackagesRequest(sending_site=SITE), metadata=auth
    )
    assert [p.name for p in from_syracuse.transfer_packages] == expected[2:]
    to_syracuse = await stub.ListTransferPackages(
        api.ListTransferPackagesRequest(receiving_site=SITE, page_size=1), metadata=auth
    )
    assert [p.name for p in to_syracuse.transfer_packages] == expected[:1]
    rest = await stub.ListTransferPackages(
        api.ListTransferPackagesRequest(receiving_site=SITE,
                                        page_token=to_syracuse.next_page_token),
        metadata=auth,
    )
    assert [p.name for p in rest.transfer_packages] == expected[1:2]
    both = await stub.ListTransferPackages(
        api.ListTransferPackagesRequest(sending_site=SITE, receiving_site=SITE), metadata=auth
    )
    assert list(both.transfer_packages) == []


@pytest.mark.parametrize(
    ("method", "request_", "code", "reason"),
    [
        ("GetTransferPackage", api.GetTransferPackageRequest(name="transferPackages/SYR-TP-000009"),
         grpc.StatusCode.NOT_FOUND, "TRANSFER_PACKAGE_NOT_FOUND"),
        ("GetTransferPackage", api.GetTransferPackageRequest(name=PACKAGE_ID),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("ListTransferPackages", api.ListTransferPackagesRequest(page_token="not-ours"),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("ListTransferPackages", api.ListTransferPackagesRequest(page_size=-1),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("ListTransferPackages", api.ListTransferPackagesRequest(receiving_site="s" * 1000),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    ],
    ids=["unknown package", "bad name", "bad token", "negative page size", "site too long"],
)
async def test_package_reads_are_refused(
    client: ViewClient, method: str, request_: object, code: grpc.StatusCode, reason: str
) -> None:
    stub, auth = client
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await getattr(stub, method)(request_, metadata=auth)
    assert refused.value.code() == code
    assert details_of(refused.value)["reason"] == reason


# --- where a master record version is effective ----------------------------------------------


def version_at(revision: int, state: pb.MasterBatchRecordState.ValueType, version: int,
               minute: int | None = None) -> pb.MasterBatchRecord:
    found = record(revision, state, version=version)
    if minute is not None:
        found.effective_time.FromDatetime(at[minute])
    return found


EFFECTIVE = pb.MASTER_BATCH_RECORD_STATE_EFFECTIVE
SUPERSEDED = pb.MASTER_BATCH_RECORD_STATE_SUPERSEDED
V2_EFFECTIVE = mbr_event(mbr_events.MasterBatchRecordMadeEffective(
    master_batch_record=version_at(4, EFFECTIVE, 2, minute=1)), "made_effective", at[1])
V2_SUPERSEDED = mbr_event(mbr_events.MasterBatchRecordSuperseded(
    master_batch_record=version_at(5, SUPERSEDED, 2, minute=1)), "superseded", at[14])
V3_EFFECTIVE = mbr_event(mbr_events.MasterBatchRecordMadeEffective(
    master_batch_record=version_at(4, EFFECTIVE, 3, minute=14)), "made_effective", at[14])
# Songdo's batch_records: the version as it was sent (its title differs from the home site's
# copy, to show the view keeps the home site's).
SENT_V2 = version_at(4, EFFECTIVE, 2, minute=1)
SENT_V2.title = "as sent"
V2_AT_SONGDO = effective_by_transfer(SENT_V2, NAME, at[10])


async def record_view(client: ViewClient, name: str) -> api.GetMasterBatchRecordResponse:
    stub, auth = client
    return await stub.GetMasterBatchRecord(api.GetMasterBatchRecordRequest(name=name),
                                           metadata=auth)


def sites(effectivity: Sequence[api.SiteEffectivity]) -> list[tuple[str, str, str, str]]:
    return [(e.master_batch_record, e.site, e.package,
             e.effective_time.ToDatetime().isoformat()) for e in effectivity]


async def test_a_version_is_effective_at_home_and_where_its_transfer_was_accepted(
    writer: Writer, client: ViewClient
) -> None:
    await apply(writer, [V2_EFFECTIVE, V2_AT_SONGDO])
    got = await record_view(client, V2)
    assert got.master_batch_record.title != "as sent"  # the home site's copy
    assert sites(got.effectivity) == [
        (V2, RECEIVING_SITE, NAME, "2025-03-04T09:10:00"),
        (V2, SITE, "", "2025-03-04T09:01:00"),
    ]
    # V3 effective at home supersedes V2 there; Songdo still runs V2 (its own QA decides).
    await apply(writer, [V3_EFFECTIVE, V2_SUPERSEDED])
    assert sites((await record_view(client, V2)).effectivity) == [
        (V2, RECEIVING_SITE, NAME, "2025-03-04T09:10:00"),
    ]
    stub, auth = client
    listed = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(record_id=RECORD_ID), metadata=auth
    )
    assert [r.name for r in listed.master_batch_records] == [V2, V3]
    assert sites(listed.effectivity) == [
        (V2, RECEIVING_SITE, NAME, "2025-03-04T09:10:00"),
        (V3, SITE, "", "2025-03-04T09:14:00"),
    ]
    # Late and repeated: V2's effective event again, a republished transfer at a later time.
    late = [republished(V2_EFFECTIVE, at[15]), republished(V2_AT_SONGDO, at[15])]
    assert await apply(writer, [V2_EFFECTIVE, V2_AT_SONGDO, *late]) == 2
    assert sites((await record_view(client, V2)).effectivity) == [
        (V2, RECEIVING_SITE, NAME, "2025-03-04T09:10:00"),
    ]
    page = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(record_id=RECORD_ID, page_size=1), metadata=auth
    )
    assert [e.master_batch_record for e in page.effectivity] == [V2]


async def test_a_transfer_taken_in_before_the_home_sites_events_shows_once_they_come(
    writer: Writer, client: ViewClient
) -> None:
    await apply(writer, [V2_AT_SONGDO])
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await record_view(client, V2)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND  # the view holds no copy of V2
    await apply(writer, [V2_EFFECTIVE])
    got = await record_view(client, V2)
    assert [e.site for e in got.effectivity] == [RECEIVING_SITE, SITE]


@pytest.mark.parametrize(
    "event",
    [
        effective_by_transfer(SENT_V2, NAME, at[10], site=SITE),  # at its own home site
        effective_by_transfer(SENT_V2, "transferPackages/nope", at[10]),
        effective_by_transfer(record(4, EFFECTIVE, version=2, record_id="SYR-X"), NAME, at[10]),
    ],
    ids=["to its home site", "bad package", "bad record"],
)
def test_a_malformed_transfer_effectivity_is_refused(event: OutboxEvent) -> None:
    with pytest.raises(ValueError):
        handlers.replica_event(received(event))


# --- the checksum and WatchChanges -----------------------------------------------------------


async def test_the_checksum_covers_packages_and_effectivity(
    writer: Writer, engine: Engine, tmp_path: Path
) -> None:
    await apply(writer, [*EVERY_EVENT, V2_EFFECTIVE, V2_AT_SONGDO])
    with read_session(engine) as session:
        before = view_checksum(session)
    rows = {table.table: table.rows for table in before.tables}
    assert (rows["replica_transfer_package"], rows["replica_master_effectivity"]) == (1, 2)
    database = tmp_path / "site_view.db"
    for statement, table in [
        ("UPDATE replica_transfer_package SET state = 'returned'", "replica_transfer_package"),
        ("UPDATE replica_master_effectivity SET effective_time = '2025-03-04T09:11:00.000000Z'"
         " WHERE site = 'songdo'", "replica_master_effectivity"),
    ]:
        with sqlite3.connect(database) as connection:
            connection.execute(statement)
        with read_session(engine) as session:
            changed = view_checksum(session)
        assert changed.sha256 != before.sha256
        assert [t.table for t in changed.tables if t not in before.tables] == [table]
        before = changed


async def test_watch_changes_serves_each_part_of_a_package_as_a_change(
    writer: Writer, client: ViewClient
) -> None:
    await apply(writer, [SENDER[1], SENDER[2], RECEIPT[1], V2_EFFECTIVE, V2_AT_SONGDO])
    stub, auth = client
    call = stub.WatchChanges(api.WatchChangesRequest(kind="transfer_package"), metadata=auth)
    try:
        response = await asyncio.wait_for(call.read(), 30)
    finally:
        call.cancel()
    assert isinstance(response, api.WatchChangesResponse)
    assert [(c.kind, c.name, c.home_site, c.revision, c.etag, c.event_type)
            for c in response.changes] == [
        ("transfer_package", NAME, SITE, 1, "1", "twinline.events.v1.TransferPackageChanged"),
        ("transfer_package", NAME, SITE, 2, "2", "twinline.events.v1.TransferPackageChanged"),
        # The receipt's change: Songdo's part, its etag.
        ("transfer_package", NAME, RECEIVING_SITE, 1, "1",
         "twinline.events.v1.TransferPackageChanged"),
    ]
    call = stub.WatchChanges(api.WatchChangesRequest(kind="master_batch_record"), metadata=auth)
    try:
        response = await asyncio.wait_for(call.read(), 30)
    finally:
        call.cancel()
    assert isinstance(response, api.WatchChangesResponse)
    assert [(c.name, c.home_site, c.revision, c.event_type) for c in response.changes] == [
        (V2, SITE, 4, "twinline.events.v1.MasterBatchRecordMadeEffective"),
        (V2, SITE, 4, "twinline.events.v1.MasterBatchRecordEffectiveByTransfer"),
    ]
