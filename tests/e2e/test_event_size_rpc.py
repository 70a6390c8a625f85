"""Over gRPC: a change whose event the site's nats-server cannot carry is refused with
FAILED_PRECONDITION / EVENT_TOO_LARGE and leaves no trace; later changes replicate as before."""

from __future__ import annotations

import grpc
import nats
import pytest
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.common.v1 import audit_pb2
from twinline.common.v1.audit_pb2_grpc import AuditTrailServiceStub

from services.common.grpc.status import details_of
from services.common.messaging.event_size import HEADROOM
from services.common.messaging.subjects import stream_name
from tests.support.mbr import many_steps, request_id
from tests.support.one_site import StartOneSite
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(90)
MAX_PAYLOAD = 64 * 1024


async def test_a_record_whose_event_exceeds_max_payload_is_refused_and_writes_nothing(
    start_one_site: StartOneSite,
) -> None:
    site = await start_one_site(max_payload=MAX_PAYLOAD)
    author = await site.login("author")
    stub = author.stub(MasterBatchRecordServiceStub)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CreateMasterBatchRecord(
            api.CreateMasterBatchRecordRequest(
                request_id=request_id(), master_batch_record=many_steps(50)
            ),
            metadata=author.metadata,
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = details_of(refused.value)
    assert details["reason"] == "EVENT_TOO_LARGE"
    metadata = details["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["limitBytes"] == str(MAX_PAYLOAD - HEADROOM)
    assert int(metadata["eventBytes"]) > MAX_PAYLOAD
    assert str(MAX_PAYLOAD - HEADROOM) in (refused.value.details() or "")

    listed = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(), metadata=author.metadata
    )
    assert list(listed.master_batch_records) == []
    audit = await author.stub(AuditTrailServiceStub).ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(), metadata=author.metadata
    )
    assert list(audit.entries) == []

    # The site's bus is not blocked: a record that fits is created and its event published.
    created = await stub.CreateMasterBatchRecord(
        api.CreateMasterBatchRecordRequest(
            request_id=request_id(), master_batch_record=many_steps(5)
        ),
        metadata=author.metadata,
    )
    client = await nats.connect(site.nats.url, connect_timeout=2)
    try:
        js = client.jetstream()

        async def on_stream() -> bool:
            info = await js.stream_info(stream_name("syracuse"))
            return info.state.messages == 1

        await wait_until(on_stream, 15.0, message="the fitting record's event on the stream")
    finally:
        await client.close()
    assert created.master_batch_record.record_id
