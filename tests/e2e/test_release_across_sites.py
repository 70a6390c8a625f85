"""Release across the sites, with no synchronous call anywhere: a Songdo batch is sampled and
tested in Syracuse's QC lab and released by Songdo's QA. The leaf link is cut after the
results are entered: Songdo refuses the release, listing the results it has not seen; once
the link is back and the events have arrived, the release succeeds and batch_records at
Songdo records it on the batch."""

from __future__ import annotations

import grpc
import pytest
from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.releasetesting.v1 import disposition_pb2 as dpb
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import sample_pb2
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import DispositionServiceStub
from twinline.siteview.v1 import site_view_service_pb2 as view_api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS, RELEASE_TESTING, SITE_VIEW
from tests.support import batches, samples
from tests.support import specifications as specs
from tests.support.mbr import request_id, sign
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(420)
stack = stack_fixture(services=[BATCH_RECORDS.name, RELEASE_TESTING.name, SITE_VIEW.name])
LAB, HOME = "syracuse", "songdo"
DEADLINE_S = 90


async def test_a_songdo_batch_tested_in_syracuse_is_released_by_songdo_after_convergence(
    stack: Stack,
) -> None:
    release = await specs.effective(stack, LAB, specs.release_specification())
    songdo_qa = await stack.login(HOME, "qa", RELEASE_TESTING.name)

    async def songdo_knows_the_specification() -> bool:
        listed = await specs.stub(songdo_qa).ListSpecifications(
            api.ListSpecificationsRequest(product=specs.PRODUCT), metadata=songdo_qa.metadata)
        return [s.name for s in listed.specifications] == [release.name]

    await wait_until(songdo_knows_the_specification, DEADLINE_S, interval=0.2)
    batch = await samples.batch_at(stack, HOME)
    await batches.approved(stack, HOME, batch)
    sample = await samples.create_sample(stack, LAB, batch)  # Syracuse knows it by its events
    assert sample.name.startswith("samples/SYR-S-") and sample.batch == batch.name

    stack.nats.proxy.cut()
    await samples.all_passed_and_reviewed(stack, LAB, sample)  # Syracuse works on, cut off

    def dispose() -> object:
        return songdo_qa.stub(DispositionServiceStub).DisposeBatch(api.DisposeBatchRequest(
            request_id=request_id(), batch=batch.name,
            decision=dpb.DISPOSITION_DECISION_RELEASED, signature=sign("qa")),
            metadata=songdo_qa.metadata)

    async def refused_for_missing_results() -> list[tuple[str, str]] | None:
        try:
            await dispose()  # type: ignore[misc]
        except grpc.aio.AioRpcError as error:
            conditions = details_of(error)["preconditions"]
            if not conditions:
                raise
            return conditions  # type: ignore[return-value]
        raise AssertionError("released while the results were out of reach")

    # The sample's creation reached Songdo before the cut (or not): either way no result did.
    conditions = await wait_until(refused_for_missing_results, DEADLINE_S, interval=0.5)
    missing = [f"{release.name} {test.test_id}" for test in release.tests]
    assert sorted(subject for kind, subject in conditions if kind == "RESULT_MISSING") == sorted(
        missing), conditions
    assert {kind for kind, _ in conditions} == {"RESULT_MISSING"}, conditions

    stack.nats.proxy.restore()

    async def released() -> dpb.Disposition | None:
        try:
            answer = await dispose()  # type: ignore[misc]
        except grpc.aio.AioRpcError as error:
            if details_of(error)["reason"] == "RELEASE_CONDITIONS_UNMET":
                return None  # Syracuse's results are still on their way
            raise
        return answer.disposition  # type: ignore[attr-defined, no-any-return]

    decided = await wait_until(released, DEADLINE_S, interval=0.5,
                               message="Songdo released the batch after convergence")
    assert (decided.decision, decided.home_site, decided.signature.signer) == (
        dpb.DISPOSITION_DECISION_RELEASED, HOME, "songdo.qa")
    assert sorted(decided.results) == sorted(
        f"{sample.name}/results/{n}" for n in range(1, 5))

    records = await stack.login(HOME, "qa")

    async def recorded_on_the_batch() -> batch_pb2.Batch | None:
        answer = await batches.stub(records).GetBatch(
            batch_api.GetBatchRequest(name=batch.name), metadata=records.metadata)
        return answer.batch if answer.batch.dispositions else None

    shown = await wait_until(recorded_on_the_batch, DEADLINE_S, interval=0.2)
    assert [(d.name, d.decision) for d in shown.dispositions] == [
        (decided.name, batch_pb2.BATCH_DISPOSITION_DECISION_RELEASED)]

    # Each site's view shows the other's part: Songdo's the lab's sample and its results,
    # Syracuse's the Songdo decision.
    songdo_view = await stack.login(HOME, "qa", SITE_VIEW.name)
    syracuse_view = await stack.login(LAB, "qa", SITE_VIEW.name)

    async def songdo_sees_the_results() -> bool:
        answer = await songdo_view.stub(SiteViewServiceStub).GetSample(
            view_api.GetSampleRequest(name=sample.name), metadata=songdo_view.metadata)
        return [r.state for a in answer.sample.assignments for r in a.results] == [
            sample_pb2.RESULT_STATE_REVIEWED] * 4

    async def syracuse_sees_the_release() -> bool:
        answer = await syracuse_view.stub(SiteViewServiceStub).ListDispositions(
            view_api.ListDispositionsRequest(batch=batch.name), metadata=syracuse_view.metadata)
        return [(d.name, d.decision) for d in answer.dispositions] == [
            (decided.name, dpb.DISPOSITION_DECISION_RELEASED)]

    await wait_until(songdo_sees_the_results, DEADLINE_S, interval=0.2,
                     ignore=(grpc.aio.AioRpcError,))
    await wait_until(syracuse_sees_the_release, DEADLINE_S, interval=0.2)
