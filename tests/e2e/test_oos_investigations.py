"""OOS investigations end to end at one site (FDA's guidance on investigating OOS results):
each path ends in the right state, the original result stays readable, and a step out of
order is refused."""

from __future__ import annotations

import grpc
import pytest
from twinline.releasetesting.v1 import disposition_pb2 as dpb
from twinline.releasetesting.v1 import investigation_pb2 as inv
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import sample_pb2 as pb
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import DispositionServiceStub

from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS, RELEASE_TESTING
from tests.support import samples
from tests.support import specifications as specs
from tests.support.mbr import request_id, sign
from tests.support.samples import investigation_step
from tests.support.stack import Stack, stack_fixture

stack = stack_fixture(services=[BATCH_RECORDS.name, RELEASE_TESTING.name])
SITE = "syracuse"
# 4.6 is above the DAR range 3.5 to 4.5: an OOS.
OOS_DAR = ("4.62", "4.58")


async def reason_of(call: object) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION, refused.value.details()
    return str(details_of(refused.value)["reason"])


async def an_oos(stack: Stack) -> tuple[pb.Sample, pb.Result, inv.Investigation]:
    await specs.effective(stack, SITE, specs.release_specification())
    sample = await samples.create_sample(stack, SITE, await samples.batch_at(stack, SITE))
    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    entered = await samples.enter(analyst, sample, "average DAR", replicates=OOS_DAR)
    assert entered.result.judgements[0].verdict == pb.VERDICT_FAIL
    assert (entered.investigation.state, entered.investigation.result) == (
        inv.INVESTIGATION_STATE_PHASE_ONE, entered.result.name)
    assert "INVESTIGATION_OPEN" in await release_refusals(stack, sample.batch)
    return entered.sample, entered.result, entered.investigation


async def release_refusals(stack: Stack, batch: str) -> set[str]:
    """The kinds of condition that keep QA from releasing ``batch`` now (its state as a
    disposition sees it): a release is never allowed here, the record is not approved."""
    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await qa.stub(DispositionServiceStub).DisposeBatch(api.DisposeBatchRequest(
            request_id=request_id(), batch=batch, decision=dpb.DISPOSITION_DECISION_RELEASED,
            signature=sign("qa")), metadata=qa.metadata)
    return {kind for kind, _ in details_of(refused.value)["preconditions"]}  # type: ignore[attr-defined]


def cause(category: int, description: str) -> inv.Cause:
    return inv.Cause(category=category, description=description)  # type: ignore[arg-type]


async def test_phase_one_finds_a_laboratory_cause_the_result_is_invalidated_and_retested(
    stack: Stack,
) -> None:
    sample, original, investigation = await an_oos(stack)
    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    assert await reason_of(samples.enter(analyst, sample, "average DAR", replicates=(
        "4.0", "4.0"), retest_of=original.name)) == "RETEST_NOT_ALLOWED"
    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    assert await reason_of(investigation_step(
        qa, "ApproveTestPlan", investigation, "qa", plan=inv.PLAN_KIND_RETEST, replicates=3,
    )) == "INVESTIGATION_STATE"
    assert await reason_of(investigation_step(
        analyst, "ConcludePhaseOne", investigation, "analyst", summary="Grubbs: an outlier",
        causes=[cause(inv.CAUSE_CATEGORY_OUTLIER_TEST, "Grubbs test, p < 0.05")],
    )) == "OUTLIER_TEST_ALONE"

    concluded = await investigation_step(
        analyst, "ConcludePhaseOne", investigation, "analyst",
        summary="Standard prepared from the wrong lot",
        causes=[cause(inv.CAUSE_CATEGORY_REAGENT_OR_STANDARD, "reference standard lot 22-117 "
                      "expired")],
    )
    assert concluded.state == inv.INVESTIGATION_STATE_RETEST_ALLOWED
    sample = await samples.get_sample(analyst, sample.name)
    kept = samples.assignment(sample, "average DAR").results[0]
    assert (kept.name, kept.state, list(kept.replicates)) == (
        original.name, pb.RESULT_STATE_INVALIDATED, list(OOS_DAR))
    assert kept.invalidation_reason.startswith(f"{investigation.name}: reagent or standard")

    retest = await samples.enter(analyst, sample, "average DAR", replicates=("4.02", "3.98"),
                                 retest_of=original.name)
    assert (retest.result.retest_of, retest.result.judgements[0].verdict) == (
        original.name, pb.VERDICT_PASS)
    assert not retest.HasField("investigation")
    closed = (await samples.investigation_stub(qa).GetInvestigation(
        api.GetInvestigationRequest(name=investigation.name),
        metadata=qa.metadata)).investigation
    assert (closed.state, list(closed.follow_up_results)) == (
        inv.INVESTIGATION_STATE_CLOSED_INVALIDATED, [retest.result.name])
    # The batch is releasable as far as the OOS goes: its DAR now rests on the retest.
    assert await release_refusals(stack, sample.batch) & {
        "INVESTIGATION_OPEN", "OOS_CONFIRMED", "RESULT_FAILED"} == set()


async def phase_two_with_a_retest(stack: Stack, retest: tuple[str, ...]) -> tuple[
    pb.Result, inv.Investigation
]:
    sample, original, investigation = await an_oos(stack)
    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    investigation = await investigation_step(
        analyst, "ConcludePhaseOne", investigation, "analyst",
        summary="No laboratory error: calculations, instrument and standards checked")
    assert investigation.state == inv.INVESTIGATION_STATE_PHASE_TWO
    assert await reason_of(investigation_step(
        qa, "ApproveTestPlan", investigation, "qa", plan=inv.PLAN_KIND_RETEST, replicates=3,
    )) == "INVESTIGATION_STATE"  # the manufacturing review comes first
    investigation = await investigation_step(
        qa, "RecordManufacturingReview", investigation, "qa",
        review="Batch record, conjugation run and deviations reviewed")
    investigation = await investigation_step(
        qa, "ApproveTestPlan", investigation, "qa", plan=inv.PLAN_KIND_RETEST, replicates=2)
    assert await reason_of(investigation_step(
        qa, "ConcludePhaseTwo", investigation, "qa", oos_confirmed=True, conclusion="early",
    )) == "PLAN_RESULTS_MISSING"
    sample = await samples.get_sample(analyst, sample.name)
    entered = await samples.enter(analyst, sample, "average DAR", replicates=retest,
                                  retest_of=original.name)
    # A plan's results are judged within its investigation: no second one is opened.
    assert not entered.HasField("investigation")
    investigation = (await samples.investigation_stub(qa).GetInvestigation(
        api.GetInvestigationRequest(name=investigation.name),
        metadata=qa.metadata)).investigation
    assert list(investigation.follow_up_results) == [entered.result.name]
    return original, investigation


async def test_phase_two_confirms_the_oos_and_the_original_result_stands(stack: Stack) -> None:
    original, investigation = await phase_two_with_a_retest(stack, ("4.61", "4.65"))
    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    closed = await investigation_step(
        qa, "ConcludePhaseTwo", investigation, "qa", oos_confirmed=True,
        conclusion="Retests confirm the OOS; drug-linker charge 8 % high",
        causes=[cause(inv.CAUSE_CATEGORY_MANUFACTURING, "drug-linker charge above target")])
    assert (closed.state, closed.phase_two.oos_confirmed) == (
        inv.INVESTIGATION_STATE_CLOSED_CONFIRMED, True)
    sample = await samples.get_sample(qa, original.name.rsplit("/results/", 1)[0])
    assert samples.assignment(sample, "average DAR").results[0].state == pb.RESULT_STATE_ENTERED
    assert "OOS_CONFIRMED" in await release_refusals(stack, sample.batch)


async def test_phase_two_invalidates_the_original_result_for_an_assignable_cause(
    stack: Stack,
) -> None:
    original, investigation = await phase_two_with_a_retest(stack, ("4.01", "4.03"))
    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    assert await reason_of(investigation_step(
        qa, "ConcludePhaseTwo", investigation, "qa", oos_confirmed=False, conclusion="x",
        causes=[cause(inv.CAUSE_CATEGORY_MANUFACTURING, "a manufacturing cause")],
    )) == "MANUFACTURING_CAUSE_CONFIRMS"
    closed = await investigation_step(
        qa, "ConcludePhaseTwo", investigation, "qa", oos_confirmed=False,
        conclusion="HIC column degraded; the retests on a new column pass",
        causes=[cause(inv.CAUSE_CATEGORY_INSTRUMENT, "HIC column past its injection count")])
    assert closed.state == inv.INVESTIGATION_STATE_CLOSED_INVALIDATED
    sample = await samples.get_sample(qa, original.name.rsplit("/results/", 1)[0])
    results = samples.assignment(sample, "average DAR").results
    assert [r.state for r in results] == [pb.RESULT_STATE_INVALIDATED, pb.RESULT_STATE_ENTERED]
    assert results[0].invalidation_reason.startswith(f"{investigation.name}: instrument")
    assert await release_refusals(stack, sample.batch) & {
        "INVESTIGATION_OPEN", "OOS_CONFIRMED", "RESULT_FAILED"} == set()


async def test_a_resample_the_plan_calls_for_links_to_the_original_and_serves_the_plan(
    stack: Stack,
) -> None:
    sample, _, investigation = await an_oos(stack)
    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)

    async def resample() -> pb.Sample:
        answer = await samples.stub(analyst).CreateSample(api.CreateSampleRequest(
            request_id=request_id(), batch=sample.batch, description="resample, retain 2",
            investigation=investigation.name), metadata=analyst.metadata)
        return answer.sample

    assert await reason_of(resample()) == "RESAMPLE_NOT_ALLOWED"  # no plan approved yet
    investigation = await investigation_step(
        analyst, "ConcludePhaseOne", investigation, "analyst", summary="No laboratory error")
    investigation = await investigation_step(
        qa, "RecordManufacturingReview", investigation, "qa", review="No manufacturing cause")
    investigation = await investigation_step(
        qa, "ApproveTestPlan", investigation, "qa", plan=inv.PLAN_KIND_RESAMPLE, replicates=2)
    second = await resample()
    assert (second.resample_of, second.batch) == (sample.name, sample.batch)
    entered = await samples.enter(analyst, second, "average DAR", replicates=("4.01", "3.99"))
    assert not entered.HasField("investigation")
    followed = (await samples.investigation_stub(qa).GetInvestigation(
        api.GetInvestigationRequest(name=investigation.name), metadata=qa.metadata)
    ).investigation
    assert list(followed.follow_up_results) == [entered.result.name]
    closed = await investigation_step(
        qa, "ConcludePhaseTwo", followed, "qa", oos_confirmed=False,
        conclusion="The resample conforms; the first aliquot was contaminated",
        causes=[cause(inv.CAUSE_CATEGORY_SAMPLE_PREPARATION, "aliquot tube not sterile")])
    assert closed.state == inv.INVESTIGATION_STATE_CLOSED_INVALIDATED
