"""Samples and results end to end at one site: real batch_records and release_testing
processes, NATS. The service learns of the batch from its events; a result is judged against
each effective specification at once; a second analyst reviews it, never the first."""

from __future__ import annotations

import grpc
import pytest
from twinline.releasetesting.v1 import sample_pb2 as pb

from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS, RELEASE_TESTING
from tests.support import samples
from tests.support import specifications as specs
from tests.support.stack import Stack, stack_fixture

stack = stack_fixture(services=[BATCH_RECORDS.name, RELEASE_TESTING.name])
SITE = "syracuse"


async def refusal(call: object) -> tuple[grpc.StatusCode, dict[str, object]]:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return refused.value.code(), details_of(refused.value)


async def test_a_sample_is_judged_against_each_specification_and_reviewed_by_another(
    stack: Stack,
) -> None:
    release = await specs.effective(stack, SITE, specs.release_specification())
    # An EU market specification, tighter on DAR: the same result passes one and fails the
    # other's alert limits.
    eu = specs.release_specification(purpose=specs.pb.PURPOSE_MARKET, market="EU",
                                     title="TWX-101 EU", tests=specs.release_tests()[:1])
    eu.tests[0].alert.low, eu.tests[0].alert.high = "3.9", "4.1"
    market = await specs.effective(stack, SITE, eu)
    batch = await samples.batch_at(stack, SITE)
    sample = await samples.create_sample(stack, SITE, batch)
    assert sample.name == "samples/SYR-S-2026-00001" or sample.name.startswith("samples/SYR-S-")
    dar = samples.assignment(sample, "average DAR")
    assert [(a.specification, a.test_id) for a in dar.applied] == [
        (release.name, "DAR"), (market.name, "DAR")]
    assert [a.attribute for a in sample.assignments] == [
        "average DAR", "monomer", "free drug-linker", "appearance"]

    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    code, details = await refusal(samples.enter(analyst, sample, "average DAR",
                                                replicates=("4.2",), unit="%"))
    assert (code, set(details["fields"])) == (  # type: ignore[arg-type]
        grpc.StatusCode.INVALID_ARGUMENT, {"unit", "replicates"})

    entered = await samples.enter(analyst, sample, "average DAR", replicates=("4.16", "4.13"))
    result = entered.result
    # (4.16 + 4.13) / 2 = 4.145 → 4.1 to one decimal: inside both alert ranges' edges.
    assert [(j.reportable, j.verdict, list(j.flags)) for j in result.judgements] == [
        ("4.1", pb.VERDICT_PASS, []), ("4.1", pb.VERDICT_PASS, [])]
    assert list(result.replicates) == ["4.16", "4.13"] and result.state == pb.RESULT_STATE_ENTERED
    code, details = await refusal(samples.review(analyst, entered.sample, result, "analyst"))
    assert (code, details["reason"]) == (grpc.StatusCode.FAILED_PRECONDITION, "SELF_REVIEW")
    second = await stack.login(SITE, "analyst2", RELEASE_TESTING.name)
    reviewed = await samples.review(second, entered.sample, result, "analyst2")
    assert reviewed.result.state == pb.RESULT_STATE_REVIEWED
    assert [s.signer for s in reviewed.result.signatures] == ["syracuse.analyst",
                                                               "syracuse.analyst2"]
    assert not reviewed.sample.complete
    # A verdict per specification, so per purpose: the market's (DAR only) conforms, the
    # release one waits for its other tests.
    assert [(v.specification, v.purpose, v.verdict) for v in reviewed.sample.verdicts] == [
        (release.name, specs.pb.PURPOSE_RELEASE, pb.SAMPLE_VERDICT_PENDING),
        (market.name, specs.pb.PURPOSE_MARKET, pb.SAMPLE_VERDICT_CONFORMS)]

    code, details = await refusal(samples.enter(analyst, reviewed.sample, "average DAR",
                                                replicates=("4.0", "4.0")))
    assert (code, details["reason"]) == (grpc.StatusCode.FAILED_PRECONDITION, "RESULT_EXISTS")


async def test_alert_limits_flag_a_passing_result_and_a_complete_sample_says_so(
    stack: Stack,
) -> None:
    await specs.effective(stack, SITE, specs.release_specification())
    sample = await samples.create_sample(stack, SITE, await samples.batch_at(stack, SITE))
    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    entered = await samples.enter(analyst, sample, "average DAR", replicates=("4.32", "4.28"))
    assert [(j.reportable, j.verdict, list(j.flags)) for j in entered.result.judgements] == [
        ("4.3", pb.VERDICT_PASS, [pb.FLAG_ALERT])]
    second = await stack.login(SITE, "analyst2", RELEASE_TESTING.name)
    sample = (await samples.review(second, entered.sample, entered.result, "analyst2")).sample
    for attribute in ("monomer", "free drug-linker", "appearance"):
        given = samples.PASSING[attribute]
        entered = await samples.enter(analyst, sample, attribute, **given)  # type: ignore[arg-type]
        sample = (await samples.review(second, entered.sample, entered.result,
                                       "analyst2")).sample
    assert sample.complete


async def test_a_passing_result_out_of_trend_with_earlier_batches_is_flagged_not_failed(
    stack: Stack,
) -> None:
    await specs.effective(stack, SITE, specs.release_specification())
    master = await samples.batches.effective_master(stack, SITE)
    mes = await stack.login(SITE, "mes")
    analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
    second = await stack.login(SITE, "analyst2", RELEASE_TESTING.name)
    for value in ("98.0", "98.2", "97.9", "98.1", "98.0", "97.8", "98.1", "98.0"):
        batch = await samples.batches.create_batch(mes, master)
        sample = await samples.create_sample(stack, SITE, batch)
        entered = await samples.enter(analyst, sample, "monomer", replicates=(value,))
        assert list(entered.result.judgements[0].flags) == []
        await samples.review(second, entered.sample, entered.result, "analyst2")
    sample = await samples.create_sample(stack, SITE, await samples.batches.create_batch(
        mes, master))
    entered = await samples.enter(analyst, sample, "monomer", replicates=("96.5",))
    judged = entered.result.judgements[0]
    assert (judged.verdict, list(judged.flags), list(judged.trend_rules)) == (
        pb.VERDICT_PASS, [pb.FLAG_OUT_OF_TREND], ["N1"])
    assert not entered.HasField("investigation")
