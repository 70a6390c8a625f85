"""Specifications end to end at one site: the real release_testing process, its writer and
signatures. Draft → approved (QA, never the author) → effective; an approved version never
changes; a new version supersedes the old one when it becomes effective."""

from __future__ import annotations

import grpc
import pytest
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import specification_pb2 as pb

from services.common.grpc.status import details_of
from services.devstack.topology import RELEASE_TESTING
from tests.support import specifications as specs
from tests.support.mbr import request_id
from tests.support.stack import Stack, stack_fixture

stack = stack_fixture(services=[RELEASE_TESTING.name])
SITE = "syracuse"


async def refusal(call: object) -> tuple[grpc.StatusCode, dict[str, object]]:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return refused.value.code(), details_of(refused.value)


async def test_a_bad_specification_is_refused_naming_every_bad_field(stack: Stack) -> None:
    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    tests = specs.release_tests()
    tests[0].range.low, tests[0].range.high = "4.5", "3.5"  # low above high
    tests[1].unit = "mg"  # fine as UCUM; the next ones are not
    tests[1].decimals = 9
    tests[2].not_more_than_loq = "NaN"
    tests[3].unit = "%"  # a qualitative test has no unit
    tests.append(pb.SpecificationTest(test_id="DAR", attribute="again", method_id="M",
                                      unit="furlongs", decimals=1, replicates=0))
    code, details = await refusal(specs.create(analyst, specs.release_specification(
        title="", tests=tests)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details["fields"]) == {  # type: ignore[arg-type]
        "specification.title",
        "specification.tests[0].range",
        "specification.tests[1].decimals",
        "specification.tests[2].not_more_than_loq",
        "specification.tests[3].unit",
        "specification.tests[4].test_id",
        "specification.tests[4].unit",
        "specification.tests[4].replicates",
        "specification.tests[4].criterion",
    }
    listed = await specs.stub(analyst).ListSpecifications(
        api.ListSpecificationsRequest(), metadata=analyst.metadata)
    assert list(listed.specifications) == []  # nothing was written


async def test_a_version_is_approved_by_qa_not_its_author_and_then_never_changes(
    stack: Stack,
) -> None:
    # Hana Seo holds QA and process engineer: she may write a specification, not approve it.
    author = await stack.login(SITE, "engineer-qa", RELEASE_TESTING.name)
    draft = await specs.create(author, specs.release_specification())
    assert (draft.name, draft.state, draft.version) == (
        "specifications/SYR-SP-000001/versions/1", pb.SPECIFICATION_STATE_DRAFT, 1)
    code, details = await refusal(specs.approve(author, draft, job="engineer-qa"))
    assert (code, details["reason"]) == (grpc.StatusCode.FAILED_PRECONDITION,
                                         "AUTHOR_CANNOT_APPROVE")
    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    code, _ = await refusal(specs.approve(analyst, draft, job="analyst"))
    assert code == grpc.StatusCode.PERMISSION_DENIED

    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    approved = await specs.approve(qa, draft)
    assert approved.state == pb.SPECIFICATION_STATE_APPROVED
    assert [(s.signer, s.meaning) for s in approved.signatures] == [
        ("syracuse.qa", approved.signatures[0].meaning)]
    approved.title = "changed after approval"
    code, details = await refusal(specs.stub(author).UpdateSpecification(
        api.UpdateSpecificationRequest(request_id=request_id(), specification=approved),
        metadata=author.metadata))
    assert (code, details["reason"]) == (grpc.StatusCode.FAILED_PRECONDITION,
                                         "SPECIFICATION_STATE")
    stored = await specs.stub(qa).GetSpecification(
        api.GetSpecificationRequest(name=draft.name), metadata=qa.metadata)
    assert stored.specification.title == draft.title


async def test_a_new_version_becomes_effective_and_supersedes_the_old_one(stack: Stack) -> None:
    first = await specs.effective(stack, SITE, specs.release_specification())
    assert first.state == pb.SPECIFICATION_STATE_EFFECTIVE
    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    draft = (await specs.stub(analyst).CreateSpecificationVersion(
        api.CreateSpecificationVersionRequest(
            request_id=request_id(), specification="specifications/SYR-SP-000001"),
        metadata=analyst.metadata)).specification
    assert (draft.version, draft.state) == (2, pb.SPECIFICATION_STATE_DRAFT)
    tightened = list(draft.tests)
    tightened[0].range.high = "4.3"
    draft.ClearField("tests")
    draft.tests.extend(tightened)
    updated = (await specs.stub(analyst).UpdateSpecification(
        api.UpdateSpecificationRequest(request_id=request_id(), specification=draft),
        metadata=analyst.metadata)).specification
    assert updated.tests[0].range.high == "4.3"

    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    answer = await specs.make_effective(qa, await specs.approve(qa, updated))
    assert answer.specification.state == pb.SPECIFICATION_STATE_EFFECTIVE
    assert (answer.superseded.name, answer.superseded.state) == (
        first.name, pb.SPECIFICATION_STATE_SUPERSEDED)
    listed = await specs.stub(qa).ListSpecifications(
        api.ListSpecificationsRequest(product=specs.PRODUCT), metadata=qa.metadata)
    assert [(s.version, s.state) for s in listed.specifications] == [
        (1, pb.SPECIFICATION_STATE_SUPERSEDED), (2, pb.SPECIFICATION_STATE_EFFECTIVE)]
