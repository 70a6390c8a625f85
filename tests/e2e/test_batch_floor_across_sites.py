"""Songdo sees Syracuse's batch floor live, step by step, and after a link cut."""

from __future__ import annotations

from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.client.session import Session
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW
from tests.support import batches
from tests.support.batches import s1, s2
from tests.support.mbr import take_to_effective
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

# Batch records and the site view are all these tests use.
stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name])

CONVERGE = 20.0


async def seen_at(viewer: Session, batch: pb.Batch) -> pb.Batch | None:
    stub = viewer.stub(SiteViewServiceStub)
    answer = await stub.ListBatches(
        view.ListBatchesRequest(site=batch.home_site), metadata=viewer.metadata
    )
    return next((b for b in answer.batches if b.name == batch.name), None)


async def shows(viewer: Session, expected: pb.Batch) -> bool:
    seen = await seen_at(viewer, expected)
    return seen is not None and seen.etag == expected.etag


async def test_songdo_follows_a_syracuse_batch_step_by_step_and_after_a_cut(
    stack: Stack,
) -> None:
    author = await stack.login("syracuse", "author")
    supervisor = await stack.login("syracuse", "reviewer")
    qa = await stack.login("syracuse", "qa")
    operator = await stack.login("syracuse", "operator")
    verifier = await stack.login("syracuse", "verifier")
    songdo = await stack.login("songdo", "qa", service=SITE_VIEW.name)
    await batches.set_equipment(supervisor, "R-201", "CLEAN")
    master = await take_to_effective(author, reviewer=supervisor, qa=qa)
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master.name)
    await wait_until(lambda: shows(songdo, batch), CONVERGE, message="created batch at Songdo")

    step_one = (await batches.record(operator, batch, s1())).batch
    await wait_until(lambda: shows(songdo, step_one), CONVERGE, message="S1 at Songdo")
    seen = await seen_at(songdo, step_one)
    assert seen is not None
    assert [s.status for s in seen.steps] == [pb.STEP_STATUS_EXECUTED, pb.STEP_STATUS_NOT_STARTED]

    stack.nats.proxy.cut()
    await batches.verify(verifier, batch, "S1")
    latest = (await batches.record(operator, batch, s2())).batch
    assert (await seen_at(songdo, batch)).etag == step_one.etag  # type: ignore[union-attr]
    stack.nats.proxy.restore()
    await wait_until(lambda: shows(songdo, latest), CONVERGE, message="converged after the cut")
    seen = await seen_at(songdo, latest)
    assert seen is not None
    assert [s.status for s in seen.steps] == [pb.STEP_STATUS_COMPLETE, pb.STEP_STATUS_COMPLETE]
    assert seen.steps[0].verified.signer == "syracuse.verifier"

    consumed = await songdo.stub(SiteViewServiceStub).ListBatchesConsumingLot(
        view.ListBatchesConsumingLotRequest(lot_id="L-DL-0042"), metadata=songdo.metadata
    )
    assert [(c.batch, c.home_site, c.step_id) for c in consumed.consumptions] == [
        (batch.name, "syracuse", "S2")
    ]
