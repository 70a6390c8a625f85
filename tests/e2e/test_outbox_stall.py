"""A relay that cannot publish the head of its outbox: after the bound, health says NOT_SERVING
for the service, GetOutboxStatus and ``twinline outbox status`` show the backlog and the error;
once the head goes out, SERVING again and the backlog empty."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.common.v1 import outbox_pb2
from twinline.common.v1.outbox_pb2_grpc import OutboxServiceStub
from typer.testing import CliRunner, Result

from services.cli.app import app
from services.client.session import Session
from services.devstack.demo_users import demo_password
from tests.support.mbr import many_steps, request_id
from tests.support.one_site import OneSite, StartOneSite
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)
DEADLINE_S = 20.0
MBR_SERVICE = api.DESCRIPTOR.services_by_name["MasterBatchRecordService"].full_name


async def health_of(site: OneSite, service: str) -> int:
    async with grpc.aio.insecure_channel(site.service.address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
        return int(answer.status)


async def outbox_status(session: Session) -> outbox_pb2.GetOutboxStatusResponse:
    answer: outbox_pb2.GetOutboxStatusResponse = await session.stub(
        OutboxServiceStub
    ).GetOutboxStatus(outbox_pb2.GetOutboxStatusRequest(), metadata=session.metadata)
    return answer


async def cli_status(site: OneSite, *options: str) -> Result:
    command = [
        "outbox", "status", "--site", "syracuse", "--user", "syracuse.qa",
        "--address", site.service.address, *options,
    ]
    env = {"TWINLINE_SITES_FILE": str(site.base_dir / "sites.toml"), "COLUMNS": "80"}
    return await asyncio.to_thread(
        CliRunner().invoke, app, command, input=f"{demo_password('qa')}\n", env=env
    )


async def test_a_head_the_bus_refuses_makes_health_not_serving_until_it_drains(
    start_one_site: StartOneSite,
) -> None:
    site = await start_one_site(TWINLINE_RELAY_STALL_SECONDS="1")
    author = await site.login("author")
    assert await health_of(site, MBR_SERVICE) == health_pb2.HealthCheckResponse.SERVING
    assert (await outbox_status(author)).unpublished_count == 0

    # Committed while the server allowed 1 MiB; the server comes back allowing 16 KiB.
    await site.nats.stop()
    await author.stub(MasterBatchRecordServiceStub).CreateMasterBatchRecord(
        api.CreateMasterBatchRecordRequest(
            request_id=request_id(), master_batch_record=many_steps(20)
        ),
        metadata=author.metadata,
    )
    await site.restart_nats(max_payload=16 * 1024)

    async def stalled_on_the_payload() -> outbox_pb2.GetOutboxStatusResponse | None:
        found = await outbox_status(author)
        return found if found.stalled and "payload" in found.last_error.lower() else None

    found = await wait_until(stalled_on_the_payload, DEADLINE_S, message="stalled on the head")
    assert found.unpublished_count == 1
    assert found.HasField("oldest_unpublished_create_time")
    assert found.oldest_unpublished_age.ToTimedelta().total_seconds() >= 0
    assert found.stall_threshold.ToTimedelta().total_seconds() == 1
    assert (found.site, found.service) == ("syracuse", "batch_records")

    async def health_is(status: int) -> bool:
        return await health_of(site, MBR_SERVICE) == status

    await wait_until(
        lambda: health_is(health_pb2.HealthCheckResponse.NOT_SERVING), DEADLINE_S,
        message="health NOT_SERVING",
    )
    shown = await cli_status(site)
    assert shown.exit_code == 3, shown.output  # a check found a problem
    assert "STALLED" in shown.output and "payload" in shown.output.lower()
    assert all(len(line) <= 80 for line in shown.output.splitlines())
    as_json = await cli_status(site, "--output", "json")
    assert as_json.exit_code == 3, as_json.output
    assert json.loads(as_json.stdout)["stalled"] is True

    # The server carries the event again: the head goes out, the service serves again.
    await site.restart_nats()

    async def drained() -> bool:
        now = await outbox_status(author)
        return now.unpublished_count == 0 and not now.stalled

    await wait_until(drained, DEADLINE_S, message="the backlog published")
    await wait_until(
        lambda: health_is(health_pb2.HealthCheckResponse.SERVING), DEADLINE_S,
        message="health SERVING again",
    )
    shown = await cli_status(site)
    assert shown.exit_code == 0, shown.output
    assert "publishing" in shown.output
