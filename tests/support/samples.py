"""Samples and results for the release-testing tests, over gRPC."""

from __future__ import annotations

import grpc
from twinline.batchrecords.v1 import batch_pb2
from twinline.releasetesting.v1 import investigation_pb2 as inv_pb
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import sample_pb2 as pb
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import (
    InvestigationServiceStub,
    SampleServiceStub,
)

from services.client.session import Session
from services.common.grpc.status import details_of
from services.devstack.topology import RELEASE_TESTING
from tests.support import batches
from tests.support.mbr import request_id, sign
from tests.support.stack import Stack
from tests.support.waiting import wait_until

# A batch event reaches the service's projection within this (a loaded 2-core machine).
PROJECTION_DEADLINE_S = 60


def stub(session: Session) -> SampleServiceStub:
    return session.stub(SampleServiceStub)


async def batch_at(stack: Stack, site: str) -> batch_pb2.Batch:
    """A new batch of TWX-101 at ``site`` (its conjugation recipe made effective there)."""
    master = await batches.effective_master(stack, site)
    return await batches.create_batch(await stack.login(site, "mes"), master)


async def create_sample(stack: Stack, lab_site: str, batch: batch_pb2.Batch,
                        job: str = "analyst") -> pb.Sample:
    """A sample of ``batch`` at ``lab_site``, once that site's service knows the batch."""
    analyst = await stack.login(lab_site, job, RELEASE_TESTING.name)

    async def created() -> pb.Sample | None:
        try:
            answer = await stub(analyst).CreateSample(
                api.CreateSampleRequest(request_id=request_id(), batch=batch.name,
                                        description="drug substance, 2 mL"),
                metadata=analyst.metadata)
        except grpc.aio.AioRpcError as error:
            if details_of(error)["reason"] == "BATCH_UNKNOWN":
                return None
            raise
        return answer.sample

    sample: pb.Sample = await wait_until(created, PROJECTION_DEADLINE_S, interval=0.2,
                                         message=f"{lab_site} knows {batch.name}")
    return sample


def assignment(sample: pb.Sample, attribute: str) -> pb.Assignment:
    return next(a for a in sample.assignments if a.attribute == attribute)


async def enter(
    analyst: Session, sample: pb.Sample, attribute: str, *, replicates: tuple[str, ...] = (),
    outcome: str = "", below_loq: bool = False, job: str = "analyst", retest_of: str = "",
    unit: str | None = None,
) -> api.EnterResultResponse:
    chosen = assignment(sample, attribute)
    answer: api.EnterResultResponse = await stub(analyst).EnterResult(
        api.EnterResultRequest(
            request_id=request_id(), sample=sample.name, etag=sample.etag,
            assignment_id=chosen.assignment_id, replicates=list(replicates), outcome=outcome,
            below_loq=below_loq, unit=chosen.unit if unit is None else unit,
            instrument_id="" if outcome else "HPLC-07", retest_of=retest_of,
            signature=sign(job)),
        metadata=analyst.metadata)
    return answer


async def review(reviewer: Session, sample: pb.Sample, result: pb.Result,
                 job: str) -> api.ReviewResultResponse:
    answer: api.ReviewResultResponse = await stub(reviewer).ReviewResult(
        api.ReviewResultRequest(request_id=request_id(), result=result.name, etag=sample.etag,
                                signature=sign(job)),
        metadata=reviewer.metadata)
    return answer


# Passing results of tests.support.specifications.release_tests(), by attribute.
PASSING: dict[str, dict[str, object]] = {
    "average DAR": {"replicates": ("4.02", "3.98")},
    "monomer": {"replicates": ("98.7",)},
    "free drug-linker": {"below_loq": True},
    "appearance": {"outcome": "conforms"},
}


async def all_passed_and_reviewed(stack: Stack, site: str, sample: pb.Sample,
                                  reviewer_job: str = "analyst2") -> pb.Sample:
    """Every assignment given a passing result by the analyst, reviewed by ``reviewer_job``."""
    analyst = await stack.login(site, "analyst", RELEASE_TESTING.name)
    reviewer = await stack.login(site, reviewer_job, RELEASE_TESTING.name)
    for attribute, given in PASSING.items():
        entered = await enter(analyst, sample, attribute, **given)  # type: ignore[arg-type]
        sample = (await review(reviewer, entered.sample, entered.result, reviewer_job)).sample
    return sample


def investigation_stub(session: Session) -> InvestigationServiceStub:
    return session.stub(InvestigationServiceStub)


async def investigation_step(session: Session, method: str, investigation: inv_pb.Investigation,
                             job: str, **fields: object) -> inv_pb.Investigation:
    """One signed step of an investigation (``method`` of InvestigationService)."""
    request_type = getattr(api, f"{method}Request")
    answer = await getattr(investigation_stub(session), method)(
        request_type(request_id=request_id(), name=investigation.name, etag=investigation.etag,
                     signature=sign(job), **fields),
        metadata=session.metadata)
    found: inv_pb.Investigation = answer.investigation
    return found


async def get_sample(session: Session, name: str) -> pb.Sample:
    answer = await stub(session).GetSample(api.GetSampleRequest(name=name),
                                           metadata=session.metadata)
    return answer.sample
