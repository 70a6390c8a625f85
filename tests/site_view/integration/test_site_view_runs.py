"""Conjugation runs in the site view, on a real nats-server, a SQLite file and the real servicer
on a grpc.aio server: run events and latest readings published into the site's stream are
taken in (newest revision, latest point per tag, a poison reading skipped), then listed and got."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
import pytest_asyncio
from twinline.conjugation.v1 import run_pb2
from twinline.events.v1 import conjugation_events_pb2 as conjugation_events
from twinline.siteview.v1 import site_view_service_pb2 as api

from services.common.grpc.status import details_of
from tests.support.replica_events import (
    RUN_ID,
    SITE,
    T0,
    TAG,
    latest_reading,
    phase_started,
    run_at,
    run_created,
    run_event,
)
from tests.support.site_view import View, ViewClient, open_view, serving

if TYPE_CHECKING:
    from tests.support.nats_harness import StartNatsSites

pytestmark = pytest.mark.timeout(60)

OTHER_RUN, OTHER_BATCH = "SYR-CR-000002", "SYR-B-2026-00043"
PH = "R201.PH01"
# Source times of the points, µs since the epoch.
T0_US = int(T0.timestamp() * 1_000_000)


@pytest_asyncio.fixture
async def view(start_nats_sites: StartNatsSites, tmp_path: Path) -> AsyncIterator[View]:
    async with open_view(start_nats_sites, tmp_path) as built:
        yield built


@pytest_asyncio.fixture
async def runs(view: View) -> AsyncIterator[ViewClient]:
    """Two runs of two batches of SITE, one through four phases, published in the site's
    stream with a late older revision and a late older point, all taken in; then served."""
    at = [T0 + timedelta(minutes=minute) for minute in range(6)]
    published = [
        run_created(run_at(1, run_pb2.PHASE_SETUP), at[0]),
        phase_started(run_at(2, run_pb2.PHASE_REDUCTION), at[1]),
        latest_reading(T0_US + 60_000_000, 22.5, time=at[1]),
        phase_started(run_at(4, run_pb2.PHASE_CONJUGATION), at[3]),
        run_created(run_at(1, run_pb2.PHASE_SETUP, run_id=OTHER_RUN, batch_id=OTHER_BATCH), at[3]),
        latest_reading(T0_US + 180_000_000, 24.0, time=at[3]),
        latest_reading(T0_US + 180_000_000, 7.1, tag=PH, unit="[pH]", time=at[3]),
        # A value that is not a number: acked and skipped, the view goes on.
        latest_reading(T0_US + 200_000_000, math.nan, time=at[4]),
        # Late: an older revision and an older point must not take the view back.
        run_event(
            conjugation_events.RunChargeRecorded(
                run=run_at(3, run_pb2.PHASE_REDUCTION), kind=run_pb2.CHARGE_KIND_REDUCING_AGENT
            ),
            "charge_recorded", at[2],
        ),
        latest_reading(T0_US + 120_000_000, 23.0, time=at[5]),
    ]
    last = 0
    for event in published:
        last = await view.publish(event)
    await view.applied_through(last)
    async with serving(view.engine) as client:
        yield client


async def test_a_run_is_got_with_its_phase_home_site_and_latest_readings(
    runs: ViewClient,
) -> None:
    client, auth = runs
    got = await client.GetRun(api.GetRunRequest(name=f"conjugationRuns/{RUN_ID}"), metadata=auth)
    assert (got.run.phase, got.run.etag, got.home_site) == (run_pb2.PHASE_CONJUGATION, "4", SITE)
    # Per tag, the point of the latest source time; not the late one, nor the poison one.
    assert [
        (r.tag, r.time.ToDatetime(tzinfo=UTC), r.value, r.unit) for r in got.latest_readings
    ] == [
        (PH, T0 + timedelta(minutes=3), 7.1, "[pH]"),
        (TAG, T0 + timedelta(minutes=3), 24.0, "Cel"),
    ]


async def test_runs_are_listed_by_site_and_batch_a_page_at_a_time(runs: ViewClient) -> None:
    client, auth = runs
    everything = await client.ListRuns(api.ListRunsRequest(), metadata=auth)
    assert [run.run_id for run in everything.runs] == [RUN_ID, OTHER_RUN]
    assert everything.next_page_token == ""

    paged, request = [], api.ListRunsRequest(site=SITE, page_size=1)
    for _ in range(3):
        page = await client.ListRuns(request, metadata=auth)
        paged += [run.run_id for run in page.runs]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert paged == [RUN_ID, OTHER_RUN]

    of_batch = await client.ListRuns(
        api.ListRunsRequest(batch=f"batches/{OTHER_BATCH}"), metadata=auth
    )
    assert [run.run_id for run in of_batch.runs] == [OTHER_RUN]
    elsewhere = await client.ListRuns(api.ListRunsRequest(site="songdo"), metadata=auth)
    assert list(elsewhere.runs) == []


async def test_latest_readings_move_the_watermark_but_only_run_events_count(
    runs: ViewClient, view: View
) -> None:
    mark = view.watermark()
    assert mark is not None
    # Five run events of the ten; the readings skip the inbox and are not counted, yet the
    # last message, a (late) reading, moved the mark to its time and sequence.
    assert (mark.events_applied, mark.stream_sequence) == (5, 10)
    assert mark.last_event_time is not None
    assert datetime.fromisoformat(mark.last_event_time) == T0 + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("request_", "code", "reason"),
    [
        (api.GetRunRequest(name="conjugationRuns/SYR-CR-000009"), grpc.StatusCode.NOT_FOUND,
         "RUN_NOT_FOUND"),
        (api.GetRunRequest(name="runs/1"), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (api.ListRunsRequest(batch="SYR-B-2026-00042"), grpc.StatusCode.INVALID_ARGUMENT,
         "INVALID_ARGUMENT"),
        (api.ListRunsRequest(page_token="not-ours"), grpc.StatusCode.INVALID_ARGUMENT,
         "INVALID_ARGUMENT"),
    ],
    ids=["unknown run", "bad name", "bad batch", "bad token"],
)
async def test_run_reads_are_refused(
    runs: ViewClient, request_: api.GetRunRequest | api.ListRunsRequest,
    code: grpc.StatusCode, reason: str,
) -> None:
    client, auth = runs
    call = client.GetRun if isinstance(request_, api.GetRunRequest) else client.ListRuns
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(request_, metadata=auth)  # type: ignore[operator]
    assert refused.value.code() == code
    assert details_of(refused.value)["reason"] == reason
