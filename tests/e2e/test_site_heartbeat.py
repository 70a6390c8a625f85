"""Heartbeats tell an idle but current link from a cut one (issue 8, item 11): two sites on
real nats-servers, the leaf link through the test's proxy, the site views over gRPC."""

from __future__ import annotations

from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.client.session import Session
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW
from services.site_view.domain import STALE_AFTER_INTERVALS
from tests.support.mbr import create
from tests.support.stack import HEARTBEAT_SECONDS, Stack, stack_fixture
from tests.support.waiting import wait_until

# Batch records and the site view are all these tests use.
stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name])

CONVERGE = 20.0
# Longer than a heartbeat could be late and the view still be current.
STALE_AFTER_S = HEARTBEAT_SECONDS * STALE_AFTER_INTERVALS


async def mark_of(session: Session, site: str) -> view.Watermark:
    answer = await session.stub(SiteViewServiceStub).ListWatermarks(
        view.ListWatermarksRequest(), metadata=session.metadata
    )
    return next(mark for mark in answer.watermarks if mark.site == site)


async def test_an_idle_link_with_heartbeats_reads_current(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    songdo = await stack.login("songdo", "qa", service=SITE_VIEW.name)
    await create(author, "IDLE-AFTER-THIS")

    async def idle_yet_current() -> view.Watermark | None:
        mark = await mark_of(songdo, "syracuse")
        # The newest event is older than staleness allows: only the heartbeats vouch for it.
        idle = mark.HasField("age") and mark.age.ToTimedelta().total_seconds() > STALE_AFTER_S
        return mark if idle and mark.current else None

    mark = await wait_until(idle_yet_current, CONVERGE,
                            message="Songdo reads idle Syracuse as current")
    assert mark.events_applied == 1
    assert mark.lag.ToTimedelta().total_seconds() < mark.age.ToTimedelta().total_seconds()
    assert mark.HasField("last_heartbeat_time") and mark.origin_last_sequence >= 1


async def test_a_cut_link_reads_stale_with_growing_lag(stack: Stack) -> None:
    songdo = await stack.login("songdo", "qa", service=SITE_VIEW.name)

    async def current() -> bool:
        return (await mark_of(songdo, "syracuse")).current

    await wait_until(current, CONVERGE, message="Songdo hears Syracuse's heartbeats")
    stack.nats.proxy.cut()

    async def stale() -> view.Watermark | None:
        mark = await mark_of(songdo, "syracuse")
        return None if mark.current else mark

    first = await wait_until(stale, CONVERGE, message="Songdo reads cut-off Syracuse as stale")
    assert first.lag.ToTimedelta().total_seconds() > STALE_AFTER_S

    async def lag_grew() -> bool:
        mark = await mark_of(songdo, "syracuse")
        return not mark.current and mark.lag.ToTimedelta() > first.lag.ToTimedelta()

    await wait_until(lag_grew, CONVERGE, message="the lag keeps growing while the link is cut")
    stack.nats.proxy.restore()
    await wait_until(current, CONVERGE, message="current again once the link is back")
