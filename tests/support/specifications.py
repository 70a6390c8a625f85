"""Specifications for the release-testing tests: a release specification of an ADC, and
driving one to effective over gRPC."""

from __future__ import annotations

from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import specification_pb2 as pb
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import (
    SpecificationServiceStub,
)

from services.client.session import Session
from services.devstack.topology import RELEASE_TESTING
from tests.support.mbr import request_id, sign
from tests.support.stack import Stack

PRODUCT = "TWX-101"


def stub(session: Session) -> SpecificationServiceStub:
    return session.stub(SpecificationServiceStub)


def release_tests() -> list[pb.SpecificationTest]:
    """Average DAR 3.5 to 4.5 (alert 3.8 to 4.2), monomer ≥ 95.0 %, free drug-linker ≤ LOQ, and
    appearance "conforms"."""
    return [
        pb.SpecificationTest(
            test_id="DAR", attribute="average DAR", method_id="HIC-001", unit="1", decimals=1,
            replicates=2, average_replicates=True, range=pb.Range(low="3.5", high="4.5"),
            alert=pb.Range(low="3.8", high="4.2"),
        ),
        pb.SpecificationTest(
            test_id="SEC-MONOMER", attribute="monomer", method_id="SEC-002", unit="%",
            decimals=1, replicates=1, average_replicates=True, range=pb.Range(low="95.0"),
        ),
        pb.SpecificationTest(
            test_id="FREE-DL", attribute="free drug-linker", method_id="RP-003", unit="%",
            decimals=2, replicates=1, average_replicates=True, not_more_than_loq="0.05",
        ),
        pb.SpecificationTest(
            test_id="APPEARANCE", attribute="appearance", method_id="VIS-004", unit="",
            decimals=0, replicates=1, qualitative="conforms",
        ),
    ]


def release_specification(product: str = PRODUCT, **changes: object) -> pb.Specification:
    """A release specification of ``product`` with ``release_tests()``; ``changes`` are
    fields of the message (``tests`` replaces the tests)."""
    fields: dict[str, object] = {
        "product": product, "purpose": pb.PURPOSE_RELEASE,
        "title": f"{product} drug substance release", "tests": release_tests(), **changes,
    }
    return pb.Specification(**fields)  # type: ignore[arg-type]


async def create(author: Session, spec: pb.Specification) -> pb.Specification:
    answer = await stub(author).CreateSpecification(
        api.CreateSpecificationRequest(request_id=request_id(), specification=spec),
        metadata=author.metadata,
    )
    return answer.specification


async def approve(qa: Session, spec: pb.Specification, job: str = "qa") -> pb.Specification:
    answer = await stub(qa).ApproveSpecification(
        api.ApproveSpecificationRequest(request_id=request_id(), name=spec.name,
                                        etag=spec.etag, signature=sign(job)),
        metadata=qa.metadata,
    )
    return answer.specification


async def make_effective(qa: Session, spec: pb.Specification,
                         job: str = "qa") -> api.MakeSpecificationEffectiveResponse:
    answer: api.MakeSpecificationEffectiveResponse = await stub(qa).MakeSpecificationEffective(
        api.MakeSpecificationEffectiveRequest(request_id=request_id(), name=spec.name,
                                              etag=spec.etag, signature=sign(job)),
        metadata=qa.metadata,
    )
    return answer


async def effective(stack: Stack, site: str, spec: pb.Specification) -> pb.Specification:
    """``spec`` written by the site's analyst, approved and made effective by its QA."""
    analyst = await stack.login(site, "analyst", RELEASE_TESTING.name)
    qa = await stack.login(site, "qa", RELEASE_TESTING.name)
    approved = await approve(qa, await create(analyst, spec))
    return (await make_effective(qa, approved)).specification
