"""Decision 0008 over gRPC: a batch's events carry its frozen control recipe once ("created")
and only name it afterwards, so recording every step of a long recipe stays within the bus's
max_payload (here lowered to 64 KiB), where events carrying recipe and execution together would
not fit once the batch is half recorded."""

from __future__ import annotations

import nats
import pytest
from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as mbr_api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.events.v1 import batch_events_pb2 as events

from services.common.messaging.event_size import HEADROOM
from services.common.messaging.subjects import stream_name
from tests.support import batches
from tests.support.mbr import many_steps, request_id, take_draft_to_effective
from tests.support.one_site import StartOneSite
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(180)
MAX_PAYLOAD = 64 * 1024
EXTRA_STEPS = 24


async def test_every_step_of_a_long_recipe_is_recorded_within_the_bus_limit(
    start_one_site: StartOneSite,
) -> None:
    site = await start_one_site(max_payload=MAX_PAYLOAD)
    author, reviewer, qa = [await site.login(job) for job in ("author", "reviewer", "qa")]
    mes, operator = await site.login("mes"), await site.login("operator")
    await batches.set_equipment(reviewer, "R-201", "CLEAN")
    draft = (
        await author.stub(MasterBatchRecordServiceStub).CreateMasterBatchRecord(
            mbr_api.CreateMasterBatchRecordRequest(
                request_id=request_id(), master_batch_record=many_steps(EXTRA_STEPS)
            ),
            metadata=author.metadata,
        )
    ).master_batch_record
    master = await take_draft_to_effective(draft, author, reviewer, qa)
    recipe_bytes = master.ByteSize()
    assert recipe_bytes > (MAX_PAYLOAD - HEADROOM) // 2

    batch = await batches.create_batch(mes, master.name)
    await batches.record(operator, batch, batches.s1())
    await batches.record(operator, batch, batches.s2())
    for number in range(EXTRA_STEPS):
        step = api.StepRecordInput(
            step_id=f"S{number + 3}", comment=f"appearance clear, step {number}; " * 45
        )
        recorded = (await batches.record(operator, batch, step)).batch
    assert all(step.status != pb.STEP_STATUS_NOT_STARTED for step in recorded.steps)
    # Recipe and execution together would no longer fit one event.
    assert recorded.ByteSize() > MAX_PAYLOAD
    assert recorded.control_recipe.name == master.name  # the service's answer holds it whole

    client = await nats.connect(site.nats.url, connect_timeout=2)
    carried: list[tuple[str, bool]] = []

    async def every_batch_event_published() -> bool:
        # The relay publishes after the commit: wait for the last event, then read them all.
        js = client.jetstream()
        stream = stream_name("syracuse")
        last = (await js.stream_info(stream)).state.last_seq
        carried.clear()
        for sequence in range(1, last + 1):
            msg = await js.get_msg(stream, sequence)
            if (msg.headers or {}).get("ce-type", "").startswith("twinline.events.v1.Batch"):
                assert len(msg.data or b"") < MAX_PAYLOAD - HEADROOM
                kind = msg.headers["ce-type"].rsplit(".", 1)[-1]  # type: ignore[index]
                payload = getattr(events, kind).FromString(msg.data)
                carried.append((kind, payload.batch.HasField("control_recipe")))
        return len(carried) >= EXTRA_STEPS + 3

    try:
        await wait_until(every_batch_event_published, timeout=30,
                         message="the relay published every batch event")
    finally:
        await client.close()
    assert carried[0] == ("BatchCreated", True)
    assert carried[1:] == [("BatchStepRecorded", False)] * (EXTRA_STEPS + 2)
