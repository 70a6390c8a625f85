"""Executed batch records end to end: real service processes, NATS, SQLite."""

from __future__ import annotations

import grpc
import pytest
from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.common.v1 import audit_pb2
from twinline.common.v1.audit_pb2_grpc import AuditTrailServiceStub

from services.common.domain.roles import Role
from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS
from tests.support import batches
from tests.support.batches import effective_master, q, reduction, s1, s2, stub
from tests.support.mbr import request_id, sign
from tests.support.stack import Stack, stack_fixture

# Only batch_records runs at each site: nothing here reads a site view.
batch_records_only = stack_fixture(services=[BATCH_RECORDS.name])


async def test_full_lifecycle_with_distinct_users(stack: Stack) -> None:
    master = await effective_master(stack)
    mes = await stack.login("syracuse", "mes")
    operator = await stack.login("syracuse", "operator")
    verifier = await stack.login("syracuse", "verifier")
    supervisor = await stack.login("syracuse", "reviewer")
    qa = await stack.login("syracuse", "qa")
    batch = await batches.create_batch(mes, master)
    assert batch.batch_id.startswith("SYR-B-2026-") or batch.batch_id.startswith("SYR-B-")
    assert batch.state == pb.BATCH_STATE_CREATED and batch.control_recipe.name == master

    recorded = await batches.record(operator, batch, s1())
    assert list(recorded.raised) == []
    assert recorded.batch.steps[0].status == pb.STEP_STATUS_EXECUTED
    await batches.verify(verifier, batch, "S1")
    await batches.record(operator, batch, s2())
    await batches.complete_and_submit(supervisor, batch)
    approved = await batches.approve(qa, batch)

    assert approved.state == pb.BATCH_STATE_APPROVED
    first = approved.steps[0]
    assert (first.executed.signer, first.executed.meaning) == ("syracuse.operator", 4)
    assert (first.verified.signer, first.verified.meaning) == ("syracuse.verifier", 5)
    assert first.executed.printed_name and first.verified.sign_time.seconds > 0
    assert [(s.signer, s.meaning) for s in approved.signatures] == [
        ("syracuse.reviewer", 4), ("syracuse.qa", 3),
    ]
    assert [m.lot_id for step in approved.steps for m in step.materials] == [
        "L-TCEP-0113", "L-DL-0042",
    ]
    read = await stub(qa).GetBatch(api.GetBatchRequest(name=batch.name), metadata=qa.metadata)
    assert read.batch == approved
    audit = await qa.stub(AuditTrailServiceStub).VerifyAuditTrail(
        audit_pb2.VerifyAuditTrailRequest(), metadata=qa.metadata
    )
    assert audit.intact
    trail = await qa.stub(AuditTrailServiceStub).ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(aggregate_id=batch.batch_id), metadata=qa.metadata
    )
    assert [e.action for e in trail.entries] == [
        "batch.created", "batch.step_recorded", "batch.step_verified", "batch.step_recorded",
        "batch.completed", "batch.submitted", "batch.approved",
    ]


async def test_four_eyes_violations_are_refused(stack: Stack) -> None:
    master = await effective_master(stack)
    stack.add_user("syracuse", "lead", (Role.SUPERVISOR, Role.QA))
    stack.add_user("syracuse", "floorqa", (Role.OPERATOR, Role.QA))
    lead = await stack.login("syracuse", "lead")
    floor_qa = await stack.login("syracuse", "floorqa")
    verifier = await stack.login("syracuse", "verifier")
    batch = await batches.create_batch(lead, master)
    await batches.record(floor_qa, batch, s1(), job="floorqa")

    with pytest.raises(grpc.aio.AioRpcError) as own_step:
        await batches.verify(floor_qa, batch, "S1", job="floorqa")
    assert own_step.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert details_of(own_step.value)["reason"] == "VERIFIER_IS_EXECUTOR"

    await batches.verify(verifier, batch, "S1")
    await batches.record(floor_qa, batch, s2(), job="floorqa")
    supervisor = await stack.login("syracuse", "reviewer")
    await batches.complete_and_submit(supervisor, batch)
    with pytest.raises(grpc.aio.AioRpcError) as author:
        await batches.approve(lead, batch, job="lead")
    assert details_of(author.value)["reason"] == "AUTHOR_CANNOT_APPROVE"
    with pytest.raises(grpc.aio.AioRpcError) as executor:
        await batches.approve(floor_qa, batch, job="floorqa")
    assert details_of(executor.value)["reason"] == "EXECUTOR_CANNOT_APPROVE"
    qa = await stack.login("syracuse", "qa")
    assert (await batches.approve(qa, batch)).state == pb.BATCH_STATE_APPROVED


async def test_a_cpp_excursion_holds_the_batch_and_blocks_approval(stack: Stack) -> None:
    master = await effective_master(stack)
    operator = await stack.login("syracuse", "operator")
    qa = await stack.login("syracuse", "qa")
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master)
    answer = await batches.record(operator, batch, reduction("36", "2.5"))
    [raised] = answer.raised
    assert (raised.kind, raised.severity) == (pb.EXCEPTION_KIND_OUT_OF_LIMITS, pb.SEVERITY_MAJOR)
    assert answer.batch.state == pb.BATCH_STATE_ON_HOLD

    with pytest.raises(grpc.aio.AioRpcError) as held:
        await batches.record(operator, batch, s2())
    assert details_of(held.value)["reason"] == "BATCH_ON_HOLD"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await batches.approve(qa, batch)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert ("EXCEPTION_NOT_DISPOSITIONED", raised.id) in details_of(refused.value)[
        "preconditions"
    ]  # type: ignore[operator]
    listed = await stub(qa).ListExceptions(
        api.ListExceptionsRequest(batch=batch.name, open_only=True), metadata=qa.metadata
    )
    assert [e.id for e in listed.exceptions] == [raised.id]

    # A MAJOR exception: the supervisor proposes, the hold stays until QA decides.
    supervisor = await stack.login("syracuse", "reviewer")
    proposed = await stub(supervisor).DispositionException(
        api.DispositionExceptionRequest(
            request_id=request_id(), batch=batch.name, exception_id=raised.id,
            signature=sign("reviewer", "probe drift confirmed; product unaffected"),
        ),
        metadata=supervisor.metadata,
    )
    assert proposed.batch.state == pb.BATCH_STATE_ON_HOLD
    exception = proposed.batch.exceptions[0]
    assert exception.proposed_disposition.signer == "syracuse.reviewer"
    assert not exception.HasField("disposition")
    resumed = await stub(qa).DispositionException(
        api.DispositionExceptionRequest(
            request_id=request_id(), batch=batch.name, exception_id=raised.id,
            signature=sign("qa", "agreed: probe drift; product unaffected"),
        ),
        metadata=qa.metadata,
    )
    assert resumed.batch.state == pb.BATCH_STATE_IN_PROGRESS
    assert resumed.batch.exceptions[0].disposition.signer == "syracuse.qa"


async def test_a_correction_keeps_the_original_value_visible(stack: Stack) -> None:
    master = await effective_master(stack)
    operator = await stack.login("syracuse", "operator")
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master)
    await batches.record(operator, batch, s1())
    corrected = await stub(operator).CorrectParameterValue(
        api.CorrectParameterValueRequest(
            request_id=request_id(), batch=batch.name, step_id="S1", parameter="TCEP",
            corrected_value=q("2.4", "mol/mol"), signature=sign("operator", "transcription error"),
        ),
        metadata=operator.metadata,
    )
    value = corrected.batch.steps[0].parameter_values[1]
    assert value.value.value == "2.4"
    [correction] = value.corrections
    assert correction.previous_value.value == "2.5"
    assert (correction.signature.signer, correction.signature.reason) == (
        "syracuse.operator", "transcription error",
    )
    qa = await stack.login("syracuse", "qa")
    trail = await qa.stub(AuditTrailServiceStub).ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(aggregate_id=batch.batch_id), metadata=qa.metadata
    )
    last = trail.entries[-1]
    assert last.action == "batch.value_corrected" and last.reason == "transcription error"
    assert '"value":"2.5"' in last.old_value and '"value":"2.4"' in last.new_value


async def test_a_retried_step_record_has_one_effect_and_bad_input_is_named(stack: Stack) -> None:
    master = await effective_master(stack)
    operator = await stack.login("syracuse", "operator")
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master)
    request = api.RecordStepRequest(
        request_id=request_id(), batch=batch.name, step=s1(), signature=sign("operator")
    )
    first = await stub(operator).RecordStep(request, metadata=operator.metadata)
    again = await stub(operator).RecordStep(request, metadata=operator.metadata)
    assert again == first and again.batch.etag == first.batch.etag

    wrong_unit = reduction("77", "2.5")
    wrong_unit.step_id = "S1"
    wrong_unit.parameter_values[0].value.unit = "[degF]"
    batch2 = await batches.create_batch(await stack.login("syracuse", "mes"), master)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await batches.record(operator, batch2, wrong_unit)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details_of(bad.value)["fields"] == ["step.parameter_values[0].value.unit"]


async def test_record_steps_is_all_or_nothing(stack: Stack) -> None:
    master = await effective_master(stack)
    mes = await stack.login("syracuse", "operator")
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master)
    broken = s2()
    broken.materials[0].lot_id = ""
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub(mes).RecordSteps(
            api.RecordStepsRequest(request_id=request_id(), batch=batch.name,
                                   steps=[s1(), broken], signature=sign("operator")),
            metadata=mes.metadata,
        )
    assert details_of(bad.value)["fields"] == ["steps[1].materials[0].lot_id"]
    unchanged = await stub(mes).GetBatch(api.GetBatchRequest(name=batch.name),
                                         metadata=mes.metadata)
    assert unchanged.batch.state == pb.BATCH_STATE_CREATED
    both = await stub(mes).RecordSteps(
        api.RecordStepsRequest(request_id=request_id(), batch=batch.name,
                               steps=[s1(), s2()], signature=sign("operator")),
        metadata=mes.metadata,
    )
    assert [s.status for s in both.batch.steps] == [pb.STEP_STATUS_EXECUTED,
                                                   pb.STEP_STATUS_COMPLETE]


async def test_a_batch_needs_a_master_record_effective_here(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    from tests.support.mbr import create

    draft = await create(author)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await batches.create_batch(await stack.login("syracuse", "mes"), draft.name)
    assert details_of(refused.value)["reason"] == "MASTER_RECORD_NOT_EFFECTIVE_AT_SITE"
