"""Driving executed batch records over gRPC, for the end-to-end tests."""

from __future__ import annotations

from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.batchrecords.v1 import equipment_service_pb2 as equipment_api
from twinline.batchrecords.v1.batch_service_pb2_grpc import BatchRecordServiceStub
from twinline.batchrecords.v1.equipment_service_pb2_grpc import EquipmentServiceStub
from twinline.common.v1 import quantity_pb2

from services.client.session import Session
from tests.support.mbr import request_id, sign, take_to_effective
from tests.support.stack import Logins


def q(value: str, unit: str) -> quantity_pb2.Quantity:
    return quantity_pb2.Quantity(value=value, unit=unit)


def stub(session: Session) -> BatchRecordServiceStub:
    return session.stub(BatchRecordServiceStub)


async def set_equipment(supervisor: Session, equipment_id: str, status: str) -> None:
    await supervisor.stub(EquipmentServiceStub).SetEquipment(
        equipment_api.SetEquipmentRequest(
            request_id=request_id(),
            equipment=equipment_api.Equipment(
                equipment_id=equipment_id, description=f"{equipment_id} (test)",
                status=equipment_api.EquipmentStatus.Value(f"EQUIPMENT_STATUS_{status}"),
            ),
        ),
        metadata=supervisor.metadata,
    )


async def create_batch(creator: Session, master_name: str) -> pb.Batch:
    answer = await stub(creator).CreateBatch(
        api.CreateBatchRequest(
            request_id=request_id(), master_batch_record=master_name,
            planned_quantity=q("200", "L"),
        ),
        metadata=creator.metadata,
    )
    return answer.batch


def s1() -> api.StepRecordInput:
    """Step S1 of tests.support.mbr.conjugation_recipe: TCEP reduction, values in range."""
    return reduction("25", "2.5")


def reduction(temperature: str, tcep: str) -> api.StepRecordInput:
    return api.StepRecordInput(
        step_id="S1",
        parameter_values=[
            api.ParameterValueInput(name="temperature", value=q(temperature, "Cel")),
            api.ParameterValueInput(name="TCEP", value=q(tcep, "mol/mol")),
        ],
        materials=[pb.MaterialAddition(material="TCEP-0.5M", lot_id="L-TCEP-0113",
                                       quantity=q("1.2", "L"))],
        equipment=[api.EquipmentUseInput(equipment_id="R-201")],
        comment="hold started 08:10",
    )


def s2() -> api.StepRecordInput:
    return api.StepRecordInput(
        step_id="S2",
        materials=[pb.MaterialAddition(material="DL-MC-vc-PAB-MMAE", lot_id="L-DL-0042",
                                       quantity=q("310", "g"))],
    )


async def record(operator: Session, batch: pb.Batch, step: api.StepRecordInput,
                 job: str = "operator") -> api.RecordStepResponse:
    return await stub(operator).RecordStep(
        api.RecordStepRequest(
            request_id=request_id(), batch=batch.name, step=step, signature=sign(job)
        ),
        metadata=operator.metadata,
    )


async def verify(verifier: Session, batch: pb.Batch, step_id: str,
                 job: str = "verifier") -> pb.Batch:
    answer = await stub(verifier).VerifyStep(
        api.VerifyStepRequest(
            request_id=request_id(), batch=batch.name, step_id=step_id, signature=sign(job)
        ),
        metadata=verifier.metadata,
    )
    return answer.batch


async def complete_and_submit(supervisor: Session, batch: pb.Batch) -> pb.Batch:
    await stub(supervisor).CompleteBatch(
        api.CompleteBatchRequest(
            request_id=request_id(), batch=batch.name, signature=sign("reviewer", "all steps done")
        ),
        metadata=supervisor.metadata,
    )
    answer = await stub(supervisor).SubmitBatchForReview(
        api.SubmitBatchForReviewRequest(request_id=request_id(), batch=batch.name),
        metadata=supervisor.metadata,
    )
    return answer.batch


async def approve(qa: Session, batch: pb.Batch, job: str = "qa") -> pb.Batch:
    answer = await stub(qa).ApproveBatchRecord(
        api.ApproveBatchRecordRequest(
            request_id=request_id(), batch=batch.name, signature=sign(job, "released to QC")
        ),
        metadata=qa.metadata,
    )
    return answer.batch


async def effective_master(stack: Logins, site: str = "syracuse") -> str:
    """The conjugation recipe made effective at ``site``, its reactor R-201 CLEAN: its name."""
    author = await stack.login(site, "author")
    reviewer = await stack.login(site, "reviewer")
    qa = await stack.login(site, "qa")
    await set_equipment(reviewer, "R-201", "CLEAN")
    return (await take_to_effective(author, reviewer, qa)).name


async def approved(stack: Logins, site: str, batch: pb.Batch) -> pb.Batch:
    """``batch`` (of tests.support.mbr's recipe) recorded, verified, reviewed and approved."""
    operator = await stack.login(site, "operator")
    await record(operator, batch, s1())
    await verify(await stack.login(site, "verifier"), batch, "S1")
    await record(operator, batch, s2())
    await complete_and_submit(await stack.login(site, "reviewer"), batch)
    return await approve(await stack.login(site, "qa"), batch)
