"""List answers stay under gRPC's default 4 MiB message limit whatever the records hold: a page
ends at a byte budget as well as at page_size, and paging returns every record.

Records of ~1.6 MB cannot be made through the API any more (their events would not fit on the
bus), so the test writes them the way older data or a larger bus could have: with the service's
own handlers and repositories, into the database of a running service, whose relay is off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from google.protobuf import message
from sqlalchemy import text
from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.batchrecords.v1 import equipment_service_pb2 as equipment_api
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.batch_service_pb2_grpc import BatchRecordServiceStub
from twinline.batchrecords.v1.equipment_service_pb2_grpc import EquipmentServiceStub
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.common.v1 import audit_pb2
from twinline.common.v1.audit_pb2_grpc import AuditTrailServiceStub

from services.batch_records.batches import repository as batch_repository
from services.batch_records.batches.translate import batch_from_proto
from services.batch_records.equipment import repository as equipment_repository
from services.batch_records.equipment.domain import Equipment, EquipmentStatus
from services.batch_records.master import handlers
from services.batch_records.master.translate import content_from_proto, record_to_proto
from services.common.domain.roles import Principal, Role
from services.common.messaging.event_size import EventSizeLimit
from services.common.persistence.database import create_database_engine
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from tests.support.mbr import many_steps
from tests.support.one_site import StartOneSite

pytestmark = pytest.mark.timeout(180)
GRPC_DEFAULT_LIMIT = 4 * 1024 * 1024
RECORDS = 3
AUTHOR = Principal("syracuse.author", "Author", frozenset({Role.PROCESS_ENGINEER}), "syracuse")
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
OUTBOX_PUBLISHED = text("UPDATE outbox SET published_time = created_time")


def seed(database: str) -> None:
    """Three master records of ~1.6 MB (audit entries as large), three batches following them,
    three pieces of equipment with ~1.6 MB descriptions."""

    def create(uow: UnitOfWork) -> None:
        for number in range(RECORDS):
            record = handlers.create(
                uow, principal=AUTHOR, site_code="SYR", content=content_from_proto(big_recipe())
            )
            recipe = record_to_proto(record)
            batch = batch_pb2.Batch(
                name=f"batches/SYR-B-2026-{number + 1:05d}",
                batch_id=f"SYR-B-2026-{number + 1:05d}", home_site="syracuse",
                master_batch_record=recipe.name, control_recipe=recipe,
                state=batch_pb2.BATCH_STATE_IN_PROGRESS, created_by=AUTHOR.username,
                etag="1",
            )
            batch.create_time.FromDatetime(NOW)
            batch.update_time.FromDatetime(NOW)
            batch_repository.add(
                uow.session, batch_from_proto(batch), batch, year=2026, number=number + 1
            )
            equipment_repository.put(
                uow.session,
                Equipment(f"R-{number:03d}", "jacketed vessel " * 100_000, EquipmentStatus.CLEAN),
                exists=False,
            )
        uow.session.execute(OUTBOX_PUBLISHED)  # nobody will publish them: the relay is off

    async def run() -> None:
        engine = create_database_engine(database)
        writer = Writer(engine, "syracuse", event_limit=EventSizeLimit(max_payload=1 << 26))
        writer.start()
        try:
            await writer.run(create)
        finally:
            await writer.stop()
            engine.dispose()

    asyncio.run(run())


def big_recipe():  # type: ignore[no-untyped-def]
    """~1.6 MB of recipe: many steps of ordinary size, none beyond a field's bound."""
    return many_steps(1100)


async def every_page(
    call: Callable[[str], Awaitable[message.Message]], items: str
) -> tuple[list[message.Message], int]:
    """All items over the pages of a List call, and the largest page's size in bytes."""
    found: list[message.Message] = []
    largest, token = 0, ""
    while True:
        page = await call(token)
        largest = max(largest, page.ByteSize())
        found += list(getattr(page, items))
        token = page.next_page_token  # type: ignore[attr-defined]
        if not token:
            return found, largest


async def test_default_list_answers_stay_under_4_mib_and_paging_returns_every_record(
    start_one_site: StartOneSite,
) -> None:
    site = await start_one_site(TWINLINE_RELAY_ENABLED="false")
    await asyncio.to_thread(seed, f"sqlite:///{site.database_path()}")
    qa = await site.login("qa")
    meta = qa.metadata
    mbrs = qa.stub(MasterBatchRecordServiceStub)
    batches = qa.stub(BatchRecordServiceStub)
    equipment = qa.stub(EquipmentServiceStub)
    audit = qa.stub(AuditTrailServiceStub)

    calls: dict[str, tuple[Callable[[str], Awaitable[message.Message]], str]] = {
        "ListMasterBatchRecords": (
            lambda token: mbrs.ListMasterBatchRecords(
                api.ListMasterBatchRecordsRequest(page_token=token), metadata=meta
            ),
            "master_batch_records",
        ),
        "ListAuditEntries": (
            lambda token: audit.ListAuditEntries(
                audit_pb2.ListAuditEntriesRequest(page_token=token), metadata=meta
            ),
            "entries",
        ),
        "ListBatches": (
            lambda token: batches.ListBatches(
                batch_api.ListBatchesRequest(page_token=token), metadata=meta
            ),
            "batches",
        ),
        "ListEquipment": (
            lambda token: equipment.ListEquipment(
                equipment_api.ListEquipmentRequest(page_token=token), metadata=meta
            ),
            "equipment",
        ),
    }
    for name, (call, items) in calls.items():
        found, largest = await every_page(call, items)
        assert len(found) == RECORDS, name
        assert min(item.ByteSize() for item in found) > 1_500_000, name
        assert largest < GRPC_DEFAULT_LIMIT, name
