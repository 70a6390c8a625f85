"""Building and driving master batch records over gRPC, for the end-to-end tests."""

from __future__ import annotations

__all__ = [
    "conjugation_recipe", "create", "many_steps", "request_id", "sign", "take_draft_to_effective",
    "take_to_effective",
]

import uuid

from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.common.v1 import signature_pb2

from services.client.session import Session
from services.devstack.demo_users import demo_password
from services.devstack.recipes import conjugation_recipe


def request_id() -> str:
    return str(uuid.uuid4())


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
