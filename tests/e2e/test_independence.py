"""GMP independence over gRPC: who did, verified or only carried the data does not decide."""

from __future__ import annotations

import grpc
import pytest
from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as mbr_api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)

from services.common.domain.roles import Role
from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS
from tests.support import batches
from tests.support.batches import s1, s2
from tests.support.mbr import create, request_id, sign
from tests.support.stack import Stack, stack_fixture

# Only batch_records runs at each site: nothing here reads a site view.
batch_records_only = stack_fixture(services=[BATCH_RECORDS.name])


def recorded_for(operator: str, step: api.StepRecordInput) -> api.StepRecordInput:
    step.performed_by = operator
    return step


async def test_an_integration_records_for_an_operator_but_signs_nothing_a_person_must(
    stack: Stack,
) -> None:
    stack.add_user("syracuse", "mes-qa", (Role.INTEGRATION, Role.QA))
    mes = await stack.login("syracuse", "mes")
    operator = await stack.login("syracuse", "operator")
    master = await batches.effective_master(stack)
    batch = await batches.create_batch(mes, master)

    with pytest.raises(grpc.aio.AioRpcError) as critical:
        await batches.record(mes, batch, recorded_for("syracuse.operator", s1()), job="mes")
    assert critical.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert details_of(critical.value)["reason"] == "INTEGRATION_CANNOT_SIGN"
    await batches.record(operator, batch, s1())

    with pytest.raises(grpc.aio.AioRpcError) as unnamed:
        await batches.record(mes, batch, s2(), job="mes")
    assert details_of(unnamed.value)["fields"] == ["step.performed_by"]
    with pytest.raises(grpc.aio.AioRpcError) as not_an_operator:
        await batches.record(mes, batch, recorded_for("syracuse.qa", s2()), job="mes")
    assert details_of(not_an_operator.value)["fields"] == ["step.performed_by"]
    answer = await batches.record(mes, batch, recorded_for("syracuse.operator", s2()), job="mes")
    s2_done = answer.batch.steps[1]
    assert (s2_done.performed_by, s2_done.executed.signer) == ("syracuse.operator", "syracuse.mes")

    # An account that is an integration cannot verify, whatever other role it holds.
    mes_qa = await stack.login("syracuse", "mes-qa")
    with pytest.raises(grpc.aio.AioRpcError) as verify:
        await batches.verify(mes_qa, batch, "S1", job="mes-qa")
    assert details_of(verify.value)["reason"] == "INTEGRATION_CANNOT_SIGN"


async def test_the_verifier_of_a_step_cannot_approve_the_batch(stack: Stack) -> None:
    stack.add_user("syracuse", "qa2", (Role.QA,))
    operator = await stack.login("syracuse", "operator")
    supervisor = await stack.login("syracuse", "reviewer")
    qa = await stack.login("syracuse", "qa")
    batch = await batches.create_batch(await stack.login("syracuse", "mes"),
                                       await batches.effective_master(stack))
    await batches.record(operator, batch, s1())
    await batches.verify(qa, batch, "S1", job="qa")
    await batches.record(operator, batch, s2())
    batch = await batches.complete_and_submit(supervisor, batch)
    assert batch.state == pb.BATCH_STATE_IN_REVIEW

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await batches.approve(qa, batch)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert details_of(refused.value)["reason"] == "VERIFIER_CANNOT_APPROVE"
    approved = await batches.approve(await stack.login("syracuse", "qa2"), batch, job="qa2")
    assert approved.state == pb.BATCH_STATE_APPROVED


async def test_a_process_engineer_who_is_also_qa_cannot_approve_what_they_authored(
    stack: Stack,
) -> None:
    # The demo user Hana Seo holds both roles (services/devstack/demo_users.py).
    engineer = await stack.login("syracuse", "engineer-qa")
    reviewer = await stack.login("syracuse", "reviewer")
    mbr = engineer.stub(MasterBatchRecordServiceStub)
    record = await create(engineer)
    record = (await mbr.SubmitMasterBatchRecordForReview(
        mbr_api.SubmitMasterBatchRecordForReviewRequest(
            request_id=request_id(), name=record.name, etag=record.etag),
        metadata=engineer.metadata,
    )).master_batch_record
    record = (await reviewer.stub(MasterBatchRecordServiceStub).ReviewMasterBatchRecord(
        mbr_api.ReviewMasterBatchRecordRequest(
            request_id=request_id(), name=record.name, etag=record.etag,
            signature=sign("reviewer", "limits checked")),
        metadata=reviewer.metadata,
    )).master_batch_record
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mbr.ApproveMasterBatchRecord(
            mbr_api.ApproveMasterBatchRecordRequest(
                request_id=request_id(), name=record.name, etag=record.etag,
                signature=sign("engineer-qa", "approved")),
            metadata=engineer.metadata,
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert details_of(refused.value)["reason"] == "AUTHOR_CANNOT_SIGN"
    qa = await stack.login("syracuse", "qa")
    approved = await qa.stub(MasterBatchRecordServiceStub).ApproveMasterBatchRecord(
        mbr_api.ApproveMasterBatchRecordRequest(
            request_id=request_id(), name=record.name, etag=record.etag,
            signature=sign("qa", "approved")),
        metadata=qa.metadata,
    )
    assert approved.master_batch_record.signatures[-1].signer == "syracuse.qa"
