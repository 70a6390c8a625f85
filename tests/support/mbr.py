"""Building and driving master batch records over gRPC, for the end-to-end tests."""

from __future__ import annotations

import uuid

from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.common.v1 import signature_pb2

from services.client.session import Session
from services.devstack.demo_users import demo_password


def request_id() -> str:
    return str(uuid.uuid4())


def conjugation_recipe(product: str = "TWX-101") -> pb.MasterBatchRecord:
    return pb.MasterBatchRecord(
        product=product,
        process="cysteine conjugation, 200 L",
        title=f"{product} conjugation",
        unit_procedures=[
            pb.UnitProcedure(
                id="UP1",
                name="Conjugation",
                operations=[
                    pb.Operation(
                        id="OP1",
                        name="Partial reduction",
                        steps=[
                            pb.Step(
                                id="S1",
                                name="Add TCEP",
                                kind=pb.STEP_KIND_PROCESS_PARAMETER,
                                instruction="Add 2.5 molar eq. TCEP; hold 90 min.",
                                requires_verification=True,
                                parameters=[
                                    pb.ProcessParameter(
                                        name="temperature",
                                        unit="Cel",
                                        target="25",
                                        low_limit="20",
                                        high_limit="30",
                                        critical=True,
                                    ),
                                    pb.ProcessParameter(
                                        name="TCEP",
                                        unit="mol/mol",
                                        target="2.5",
                                        low_limit="2.0",
                                        high_limit="3.0",
                                    ),
                                ],
                            ),
                        ],
                    ),
                    pb.Operation(
                        id="OP2",
                        name="Conjugation",
                        steps=[
                            pb.Step(
                                id="S2",
                                name="Add drug-linker",
                                kind=pb.STEP_KIND_MATERIAL_ADDITION,
                                instruction="Add maleimide drug-linker in DMSO (≤ 10 % v/v).",
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )


def many_steps(count: int) -> pb.MasterBatchRecord:
    """A recipe of ``count`` steps, each with a 1,500-character instruction."""
    record = conjugation_recipe()
    operation = record.unit_procedures[0].operations[1]
    for number in range(count):
        operation.steps.append(
            pb.Step(
                id=f"S{number + 3}", name=f"Hold {number}", kind=pb.STEP_KIND_INSTRUCTION,
                instruction="Hold at 22 Cel, record appearance. " * 42,
            )
        )
    return record


def sign(job: str, reason: str = "") -> signature_pb2.SignatureInput:
    return signature_pb2.SignatureInput(password=demo_password(job), reason=reason)


async def create(author: Session, product: str = "TWX-101") -> pb.MasterBatchRecord:
    answer = await author.stub(MasterBatchRecordServiceStub).CreateMasterBatchRecord(
        api.CreateMasterBatchRecordRequest(
            request_id=request_id(), master_batch_record=conjugation_recipe(product)
        ),
        metadata=author.metadata,
    )
    return answer.master_batch_record


async def take_to_effective(
    author: Session, reviewer: Session, qa: Session, product: str = "TWX-101"
) -> pb.MasterBatchRecord:
    """Create → submit → review → approve → make effective, each by the right person."""
    record = await create(author, product)
    return await take_draft_to_effective(record, author, reviewer, qa)


async def take_draft_to_effective(
    record: pb.MasterBatchRecord, author: Session, reviewer: Session, qa: Session
) -> pb.MasterBatchRecord:
    stub = author.stub(MasterBatchRecordServiceStub)
    record = (
        await stub.SubmitMasterBatchRecordForReview(
            api.SubmitMasterBatchRecordForReviewRequest(
                request_id=request_id(), name=record.name, etag=record.etag
            ),
            metadata=author.metadata,
        )
    ).master_batch_record
    record = (
        await reviewer.stub(MasterBatchRecordServiceStub).ReviewMasterBatchRecord(
            api.ReviewMasterBatchRecordRequest(
                request_id=request_id(),
                name=record.name,
                etag=record.etag,
                signature=sign("reviewer", "structure and limits checked"),
            ),
            metadata=reviewer.metadata,
        )
    ).master_batch_record
    qa_stub = qa.stub(MasterBatchRecordServiceStub)
    record = (
        await qa_stub.ApproveMasterBatchRecord(
            api.ApproveMasterBatchRecordRequest(
                request_id=request_id(),
                name=record.name,
                etag=record.etag,
                signature=sign("qa", "approved for GMP use"),
            ),
            metadata=qa.metadata,
        )
    ).master_batch_record
    return (
        await qa_stub.MakeMasterBatchRecordEffective(
            api.MakeMasterBatchRecordEffectiveRequest(
                request_id=request_id(),
                name=record.name,
                etag=record.etag,
                signature=sign("qa", "effective at home site"),
            ),
            metadata=qa.metadata,
        )
    ).master_batch_record
