"""A conjugation run of Syracuse in both sites' views: real batch_records, conjugation and
site_view processes at each site, NATS with the leaf link through a proxy the test cuts.

The run's reactor temperature is streamed into Syracuse's ProcessReadingsService, which
publishes the tag's latest point (``readings.latest``) for the views.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from twinline.conjugation.v1 import run_pb2 as pb
from twinline.conjugation.v1 import run_service_pb2 as api
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.client.session import Session
from services.devstack.topology import BATCH_RECORDS, CONJUGATION, SITE_VIEW
from tests.support import runs
from tests.support.batches import q
from tests.support.mbr import request_id
from tests.support.runs import SITE, stub
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

stack = stack_fixture(services=[BATCH_RECORDS.name, CONJUGATION.name, SITE_VIEW.name])

# Six service processes and two nats-servers on a loaded 2-core machine.
CONVERGE = 30.0
TAG = "R201.TT01"


async def stream_latest(stack: Stack, run: pb.Run, value: float, seconds_ago: int) -> None:
    """One point of the run's reactor temperature, ``seconds_ago`` in source time."""
    time_us = int((datetime.now(UTC) - timedelta(seconds=seconds_ago)).timestamp() * 1e6)
    summary = await runs.stream_points(stack, run, TAG, [(time_us, value)])
    assert summary.stored == 1


async def held(viewer: Session, run: pb.Run) -> view.GetRunResponse | None:
    listed = await viewer.stub(SiteViewServiceStub).ListRuns(
        view.ListRunsRequest(batch=run.batch), metadata=viewer.metadata
    )
    if run.name not in {found.name for found in listed.runs}:
        return None
    got: view.GetRunResponse = await viewer.stub(SiteViewServiceStub).GetRun(
        view.GetRunRequest(name=run.name), metadata=viewer.metadata
    )
    return got


async def shows(viewer: Session, run: pb.Run, value: float) -> bool:
    """True once the view holds the run at its etag, with ``value`` as its latest reading."""
    got = await held(viewer, run)
    return (
        got is not None and got.run.etag == run.etag
        and [(r.tag, r.value) for r in got.latest_readings] == [(TAG, value)]
    )


async def test_a_syracuse_run_is_seen_at_songdo_and_both_views_converge_after_a_cut(
    stack: Stack,
) -> None:
    batch = await runs.batch_in_progress(stack)
    run = await runs.create_run(stack, batch)
    operator = await stack.login(SITE, "operator", CONJUGATION.name)
    started = await stub(operator).StartPhase(api.StartPhaseRequest(
        request_id=request_id(), name=run.name, etag=run.etag, phase=pb.PHASE_REDUCTION,
    ), metadata=operator.metadata)
    run = started.run
    await runs.declare_tag(stack, run, TAG, low=20, high=30, dwell_s=60)
    await stream_latest(stack, run, 24.5, seconds_ago=60)

    songdo = await stack.login("songdo", "qa", service=SITE_VIEW.name)
    syracuse = await stack.login(SITE, "qa", service=SITE_VIEW.name)
    await wait_until(lambda: shows(songdo, run, 24.5), CONVERGE, message="the run at Songdo")
    seen = await held(songdo, run)
    assert seen is not None
    assert (seen.home_site, seen.run.phase, seen.run.batch) == (SITE, pb.PHASE_REDUCTION,
                                                                batch.name)
    assert seen.run == run

    # Cut off, Syracuse goes on: the charge, the end of the reduction, the conjugation.
    stack.nats.proxy.cut()
    run = (await stub(operator).RecordCharge(api.RecordChargeRequest(
        request_id=request_id(), name=run.name, etag=run.etag,
        kind=pb.CHARGE_KIND_REDUCING_AGENT, actual=q("14.70", "mL"), lot_id="L-TCEP-0113",
    ), metadata=operator.metadata)).run
    run = (await stub(operator).EndPhase(api.EndPhaseRequest(
        request_id=request_id(), name=run.name, etag=run.etag, phase=pb.PHASE_REDUCTION,
        parameters=[api.ParameterInput(name="temperature", value=q("25", "Cel")),
                    api.ParameterInput(name="TCEP", value=q("2.2", "mol/mol"))],
    ), metadata=operator.metadata)).run
    run = (await stub(operator).StartPhase(api.StartPhaseRequest(
        request_id=request_id(), name=run.name, etag=run.etag, phase=pb.PHASE_CONJUGATION,
    ), metadata=operator.metadata)).run
    await stream_latest(stack, run, 26.0, seconds_ago=30)
    await wait_until(lambda: shows(syracuse, run, 26.0), CONVERGE,
                     message="the run's progress in Syracuse's own view")
    behind = await held(songdo, run)
    assert behind is not None and behind.run.phase == pb.PHASE_REDUCTION
    assert [r.value for r in behind.latest_readings] == [24.5]

    stack.nats.proxy.restore()
    await wait_until(lambda: shows(songdo, run, 26.0), CONVERGE,
                     message="Songdo converged after the cut")
    at_songdo, at_syracuse = await held(songdo, run), await held(syracuse, run)
    assert at_songdo is not None and at_songdo == at_syracuse
    assert at_songdo.run.phase == pb.PHASE_CONJUGATION and len(at_songdo.run.charges) == 1
