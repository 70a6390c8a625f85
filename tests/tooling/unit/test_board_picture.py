"""The board's rows from the site view's messages (pure), its event lines and resume tokens,
and its escaping of what users typed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.siteview.v1 import site_view_service_pb2 as api

from services.board import render
from services.board.live import FULL_MESSAGE, ChangeWatch, sse
from services.board.picture import SitePicture, SiteViewReader, batch_row, link_row
from services.common.sites import DEFAULT_REGISTRY, SiteRegistry

SYRACUSE = SiteRegistry.load(DEFAULT_REGISTRY).get("syracuse")


def a_batch(product: str = "TWX-101") -> batch_pb2.Batch:
    recipe = mbr_pb.MasterBatchRecord(product=product)
    operation = recipe.unit_procedures.add().operations.add()
    operation.steps.add(id="S1")
    operation.steps.add(id="S2")
    batch = batch_pb2.Batch(batch_id="SYR-B-2026-00007", control_recipe=recipe,
                            state=batch_pb2.BATCH_STATE_IN_PROGRESS, etag="3")
    recorded = batch.steps.add(step_id="S1", status=batch_pb2.STEP_STATUS_EXECUTED)
    recorded.record_time.FromDatetime(datetime(2026, 12, 3, 8, 10, 5, tzinfo=UTC))
    batch.steps.add(step_id="S2", status=batch_pb2.STEP_STATUS_NOT_STARTED)
    return batch


def test_a_batch_row_counts_its_recorded_steps_and_names_the_last() -> None:
    row = batch_row(a_batch())

    assert (row.state, row.steps_recorded, row.steps_total) == ("in progress", 1, 2)
    assert (row.last_step, row.last_step_time) == ("S1", "2026-12-03 08:10:05")


def test_a_link_reads_its_lag_or_a_dash_before_the_first_heartbeat() -> None:
    current = api.Watermark(site="syracuse", current=True, events_applied=4)
    current.lag.FromMilliseconds(400)

    assert link_row(SYRACUSE, current).lag == "0.4 s"
    assert link_row(SYRACUSE, current).current
    assert (link_row(SYRACUSE, None).lag, link_row(SYRACUSE, None).current) == ("—", False)


def test_a_column_escapes_a_hostile_product() -> None:
    hostile = '<script>alert("x")</script>'
    picture = SitePicture(SYRACUSE, (batch_row(a_batch(hostile)),), (), (), (), (), ())

    html = render.column(picture)

    assert hostile not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_an_event_is_one_json_line() -> None:
    event = sse("column", {"site": "songdo", "html": "<p>a\nb</p>"})

    assert event.endswith("\n\n") and event.count("\n") == 3
    assert json.loads(event.splitlines()[1].removeprefix("data: "))["html"] == "<p>a\nb</p>"


def changes(*named: tuple[str, str, str]) -> api.WatchChangesResponse:
    return api.WatchChangesResponse(changes=[
        api.Change(kind=kind, name=name, home_site=site) for kind, name, site in named
    ])


def test_the_watch_keeps_the_most_recently_changed_names_and_waits_out_a_full_message() -> None:
    watch = ChangeWatch(reader=None, metadata=())  # type: ignore[arg-type]
    full = changes(*[("batch", f"batches/SYR-B-2026-{n:05}", "syracuse")
                     for n in range(FULL_MESSAGE)])

    watch.take_in(full)
    assert not watch.changed.is_set() and not watch.caught_up.is_set()
    watch.take_in(changes(("batch", "batches/SYR-B-2026-00003", "syracuse"),
                          ("master_batch_record", "masterBatchRecords/X/versions/1", "syracuse"),
                          ("run", "conjugationRuns/SDO-CR-000001", "songdo")))

    assert watch.changed.is_set() and watch.caught_up.is_set()
    assert watch.recent[("syracuse", "batch")][:2] == [
        "batches/SYR-B-2026-00003", f"batches/SYR-B-2026-{FULL_MESSAGE - 1:05}"]
    assert len(watch.recent[("syracuse", "batch")]) == 8
    assert watch.take() == {("syracuse", "batch"), ("songdo", "run")}
    assert not watch.changed.is_set()


class CountingView:
    """A site view stub answering every list empty (batches: one), counting the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, method: str) -> object:
        responses = {
            "ListBatches": api.ListBatchesResponse, "ListRuns": api.ListRunsResponse,
            "ListSamples": api.ListSamplesResponse,
            "ListInvestigations": api.ListInvestigationsResponse,
            "ListDispositions": api.ListDispositionsResponse,
            "ListTransferPackages": api.ListTransferPackagesResponse,
        }

        async def call(request: object, **_: object) -> object:
            self.calls.append((method, getattr(request, "site", "")))
            answer = responses[method]()
            if method == "ListBatches":
                answer.batches.append(a_batch())  # type: ignore[attr-defined]
            return answer

        return call


async def test_a_change_reads_again_only_its_site_and_kind() -> None:
    view = CountingView()
    reader = SiteViewReader(view, SiteRegistry.load(DEFAULT_REGISTRY))  # type: ignore[arg-type]
    first = await reader.pictures(())
    assert len(view.calls) == 2 * 5 + 1  # five lists per site, the transfers once
    view.calls.clear()

    again = await reader.pictures((), first, {("syracuse", "batch")})

    assert view.calls == [("ListBatches", "syracuse")]
    assert again == first
    view.calls.clear()
    await reader.pictures((), first, {("songdo", "transfer_package")})
    assert view.calls == [("ListTransferPackages", "")]
