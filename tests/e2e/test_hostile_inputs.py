"""One hostile field at a time, through real gRPC servers (two sites, NATS, SQLite): each is
refused with INVALID_ARGUMENT naming the field (ErrorInfo domain twinline.io), never INTERNAL or
OK; and replication to the other site works afterwards (docs/bounds.md)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import grpc
import pytest
import pytest_asyncio
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.batchrecords.v1 import equipment_service_pb2 as equipment_api
from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as mbr_api
from twinline.batchrecords.v1.equipment_service_pb2_grpc import EquipmentServiceStub
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.common.v1 import audit_pb2, auth_pb2, auth_pb2_grpc
from twinline.common.v1.audit_pb2_grpc import AuditTrailServiceStub
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.client.session import Session
from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW
from tests.support import batches
from tests.support.batches import effective_master, reduction, s1, stub
from tests.support.mbr import conjugation_recipe, request_id, sign
from tests.support.nats_harness import NatsSites
from tests.support.stack import Stack, stack_fixture, write_default_registry
from tests.support.waiting import wait_until

# Batch records and the site view are all these tests use.
stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name])

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]
MEGABYTE = "x" * 1_000_000
STEP0 = "master_batch_record.unit_procedures[0].operations[0].steps[0]"


@dataclass
class Floor:
    stack: Stack
    operator: Session
    supervisor: Session
    qa: Session
    master: str
    batch: pb.Batch


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def floor(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Floor]:
    base = tmp_path_factory.mktemp("hostile")
    registry = write_default_registry(base / "sites.toml")
    stack = Stack(base, registry, NatsSites(base / "nats", registry))
    try:
        await stack.start()
        master = await effective_master(stack)
        batch = await batches.create_batch(await stack.login("syracuse", "mes"), master)
        yield Floor(
            stack, await stack.login("syracuse", "operator"),
            await stack.login("syracuse", "reviewer"), await stack.login("syracuse", "qa"),
            master, batch,
        )
    finally:
        await stack.close()


def _token(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode()


def _with_value(value: str) -> api.StepRecordInput:
    return reduction(value, "2.5")


def _performed(seconds: int, nanos: int) -> api.StepRecordInput:
    step = s1()
    step.perform_time.CopyFrom(timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos))
    return step


def _with(change: Callable[[api.StepRecordInput], None]) -> api.StepRecordInput:
    step = s1()
    change(step)
    return step


def _recipe(change: Callable[[mbr_pb.MasterBatchRecord], None]) -> mbr_pb.MasterBatchRecord:
    record = conjugation_recipe()
    change(record)
    return record


def _step0(record: mbr_pb.MasterBatchRecord) -> mbr_pb.Step:
    return record.unit_procedures[0].operations[0].steps[0]


async def record_step(f: Floor, step: api.StepRecordInput) -> object:
    return await stub(f.operator).RecordStep(
        api.RecordStepRequest(
            request_id=request_id(), batch=f.batch.name, step=step, signature=sign("operator")
        ),
        metadata=f.operator.metadata,
    )


async def create_recipe(f: Floor, record: mbr_pb.MasterBatchRecord) -> object:
    author = await f.stack.login("syracuse", "author")
    return await author.stub(MasterBatchRecordServiceStub).CreateMasterBatchRecord(
        mbr_api.CreateMasterBatchRecordRequest(request_id=request_id(), master_batch_record=record),
        metadata=author.metadata,
    )


async def raise_deviation(f: Floor, title: str, description: str) -> object:
    return await stub(f.operator).RaiseDeviation(
        api.RaiseDeviationRequest(
            request_id=request_id(), batch=f.batch.name, classification=pb.SEVERITY_MINOR,
            title=title, description=description,
        ),
        metadata=f.operator.metadata,
    )


async def list_batches(f: Floor, token: str) -> object:
    return await stub(f.qa).ListBatches(
        api.ListBatchesRequest(page_token=token), metadata=f.qa.metadata
    )


async def list_audit(f: Floor, token: str = "", aggregate_id: str = "") -> object:
    return await f.qa.stub(AuditTrailServiceStub).ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(page_token=token, aggregate_id=aggregate_id),
        metadata=f.qa.metadata,
    )


async def get_record(f: Floor, name: str) -> object:
    return await f.qa.stub(MasterBatchRecordServiceStub).GetMasterBatchRecord(
        mbr_api.GetMasterBatchRecordRequest(name=name), metadata=f.qa.metadata
    )


async def get_batch(f: Floor, name: str) -> object:
    return await stub(f.qa).GetBatch(api.GetBatchRequest(name=name), metadata=f.qa.metadata)


async def batch_report(f: Floor, batch: str) -> object:
    return await stub(f.qa).GetBatchRecordReport(
        api.GetBatchRecordReportRequest(batch=batch), metadata=f.qa.metadata)


async def set_equipment(f: Floor, equipment_id: str) -> object:
    return await f.supervisor.stub(EquipmentServiceStub).SetEquipment(
        equipment_api.SetEquipmentRequest(
            request_id=request_id(),
            equipment=equipment_api.Equipment(
                equipment_id=equipment_id, status=equipment_api.EQUIPMENT_STATUS_CLEAN
            ),
        ),
        metadata=f.supervisor.metadata,
    )


async def update_deviation(f: Floor, deviation_id: str) -> object:
    return await stub(f.supervisor).UpdateDeviation(
        api.UpdateDeviationRequest(
            request_id=request_id(), batch=f.batch.name, deviation_id=deviation_id,
            investigation="root cause: none",
        ),
        metadata=f.supervisor.metadata,
    )


async def log_in(f: Floor, username: str) -> object:
    address = f.stack.address("syracuse", BATCH_RECORDS.name)
    async with grpc.aio.insecure_channel(address) as channel:
        return await auth_pb2_grpc.AuthenticationServiceStub(channel).Login(
            auth_pb2.LoginRequest(username=username, password="not the password")
        )


Call = Callable[[Floor], Awaitable[object]]
VALUE = "step.parameter_values[0].value.value"
CASES: list[tuple[str, Call, str]] = [
    # item 1: a 1 MB field is refused naming it
    ("1 MB step instruction", lambda f: create_recipe(
        f, _recipe(lambda r: setattr(_step0(r), "instruction", MEGABYTE))), f"{STEP0}.instruction"),
    ("1 MB deviation description", lambda f: raise_deviation(f, "spill", MEGABYTE),
     "description"),
    ("1 MB step comment", lambda f: record_step(
        f, _with(lambda s: setattr(s, "comment", MEGABYTE))), "step.comment"),
    # item 2: decimals
    ("1e999999 temperature limit", lambda f: create_recipe(f, _recipe(
        lambda r: setattr(_step0(r).parameters[0], "high_limit", "1e999999"))),
     f"{STEP0}.parameters[0].high_limit"),
    ("1e-9999999 recorded", lambda f: record_step(f, _with_value("1e-9999999")), VALUE),
    ("1e999999999 recorded", lambda f: record_step(f, _with_value("1e999999999")), VALUE),
    ("NaN recorded", lambda f: record_step(f, _with_value("NaN")), VALUE),
    ("Infinity recorded", lambda f: record_step(f, _with_value("Infinity")), VALUE),
    ("19 significant digits", lambda f: record_step(f, _with_value("25.00000000000000001")),
     VALUE),
    ("1e999999 material quantity", lambda f: record_step(
        f, _with(lambda s: setattr(s.materials[0].quantity, "value", "1e999999"))),
     "step.materials[0].quantity.value"),
    # item 4: text XML cannot carry
    ("\\x01 in a step comment", lambda f: record_step(
        f, _with(lambda s: setattr(s, "comment", "ok\x01"))), "step.comment"),
    ("\\x0b in a deviation title", lambda f: raise_deviation(f, "spill\x0b", "d"), "title"),
    ("U+FFFE in a recipe title", lambda f: create_recipe(
        f, _recipe(lambda r: setattr(r, "title", "TWX\ufffe"))), "master_batch_record.title"),
    # item 5: page tokens
    ("deeply nested JSON token", lambda f: list_batches(
        f, _token("[" * 50_000 + "]" * 50_000)), "page_token"),
    ("huge integer token", lambda f: list_batches(f, _token(f"[{'9' * 300}, 1]")),
     "page_token"),
    ("boolean token", lambda f: list_batches(f, _token("[true, true]")), "page_token"),
    ("negative position token", lambda f: list_batches(f, _token("[-1, -5]")), "page_token"),
    ("nested JSON audit token", lambda f: list_audit(f, _token("[" * 50_000)), "page_token"),
    ("boolean audit token", lambda f: list_audit(f, _token("true")), "page_token"),
    # item 5: timestamps
    ("perform_time after 9999", lambda f: record_step(f, _performed(2**40, 0)),
     "step.perform_time"),
    ("perform_time before year 1", lambda f: record_step(f, _performed(-2**40, 0)),
     "step.perform_time"),
    ("perform_time negative nanos", lambda f: record_step(f, _performed(1_700_000_000, -1)),
     "step.perform_time"),
    # item 5: names, equipment ids, log-in
    ("non-ASCII digit version", lambda f: get_record(
        f, "masterBatchRecords/SYR-MBR-000001/versions/\u0661"), "name"),
    ("huge version", lambda f: get_record(
        f, f"masterBatchRecords/SYR-MBR-000001/versions/{'9' * 30}"), "name"),
    ("non-ASCII digit batch", lambda f: get_batch(f, "batches/SYR-B-2026-0000\u0661"), "name"),
    ("name with a trailing newline", lambda f: get_batch(f, "batches/SYR-B-2026-00001\n"),
     "name"),
    ("1 MB batch of a report", lambda f: batch_report(f, f"batches/{MEGABYTE}"), "batch"),
    ("\\x07 in the batch of a report", lambda f: batch_report(f, "batches/SYR-B-2026\x07"),
     "batch"),
    ("1 MB equipment id", lambda f: set_equipment(f, MEGABYTE), "equipment.equipment_id"),
    ("1 MB equipment id in a step", lambda f: record_step(
        f, _with(lambda s: setattr(s.equipment[0], "equipment_id", MEGABYTE))),
     "step.equipment[0].equipment_id"),
    # item 1: any request's string, where no domain rule names it, has the last-resort bound
    ("1 MB audit filter", lambda f: list_audit(f, aggregate_id=MEGABYTE), "aggregate_id"),
    ("\\x01 in an audit filter", lambda f: list_audit(f, aggregate_id="SYR\x01"),
     "aggregate_id"),
    ("60,000-character deviation id", lambda f: update_deviation(f, "D" * 60_000),
     "deviation_id"),
    ("70,000-character username", lambda f: log_in(f, "u" * 70_000), "username"),
]


def _domain(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.domain
    return ""


@pytest.mark.parametrize(("case", "call", "field"), CASES, ids=[c[0] for c in CASES])
async def test_a_hostile_field_is_refused_naming_it(
    floor: Floor, case: str, call: Call, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(floor)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    assert details_of(refused.value)["fields"] == [field]
    assert _domain(refused.value) == "twinline.io"


async def test_replication_to_the_other_site_still_works_afterwards(floor: Floor) -> None:
    recorded = (await batches.record(floor.operator, floor.batch, s1())).batch
    songdo = await floor.stack.login("songdo", "qa", service=SITE_VIEW.name)

    async def seen() -> bool:
        answer = await songdo.stub(SiteViewServiceStub).GetBatch(
            view.GetBatchRequest(name=recorded.name), metadata=songdo.metadata
        )
        return answer.batch.etag == recorded.etag

    async def arrived() -> bool:
        try:
            return await seen()
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise

    await wait_until(arrived, 20.0, message="the recorded step at Songdo")
