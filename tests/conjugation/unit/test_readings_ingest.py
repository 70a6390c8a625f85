"""What an ingest message must be, what a tag's flush decides, and pages under the budget."""

from __future__ import annotations

import pytest

from services.common.domain.errors import FailedPrecondition, InvalidArgument
from services.conjugation.readings.domain.buckets import Bucket
from services.conjugation.readings.domain.excursions import ExcursionState, Started
from services.conjugation.readings.domain.ingest import (
    LATEST_INTERVAL_US,
    POINTS_PER_MESSAGE,
    Latest,
    Points,
    Received,
    check_points,
    ingest_tag,
)
from services.conjugation.readings.domain.tags import Limits, Tag
from services.conjugation.readings.translate import bucket_pages, raw_pages

S = 1_000_000
NOW = 1_772_614_800 * S
TAG = Tag("SYR-CR-000001", "R201.TT01", "", "Cel", Limits(20.0, 25.0, 10 * S),
          "batches/SYR-B-2026-00001")
TAGS = {TAG.tag: TAG}


def received(count: int = 1, **column: list[object]) -> Received:
    columns: dict[str, list[object]] = {
        "tags": [TAG.tag] * count, "times": [NOW] * count, "values": [21.0] * count,
        "units": ["Cel"] * count, "qualities": [1] * count,
    }
    columns.update(column)
    return Received(**columns)  # type: ignore[arg-type]


def fields_of(given: Received) -> list[str]:
    with pytest.raises(InvalidArgument) as refused:
        check_points(given, TAGS, run_name="conjugationRuns/SYR-CR-000001", now_us=NOW)
    return [violation.field for violation in refused.value.violations]


def test_every_bad_point_is_named() -> None:
    assert fields_of(received(3, units=["Cel", "[degF]", "Cel"],
                              values=[21.0, 21.0, float("nan")],
                              times=[NOW, NOW, NOW + 600 * S], qualities=[1, 9, 1])) == [
        "points[1].unit", "points[1].quality", "points[2].time_us", "points[2].value",
    ]
    assert fields_of(received(POINTS_PER_MESSAGE + 1)) == ["points"]


def test_an_undeclared_tag_is_named() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        check_points(received(2, tags=[TAG.tag, "R201.PT09"]), TAGS,
                     run_name="conjugationRuns/SYR-CR-000001", now_us=NOW)
    assert refused.value.reason == "TAG_NOT_DECLARED"
    assert refused.value.metadata == {"tag": "R201.PT09", "run": "conjugationRuns/SYR-CR-000001"}


def test_a_flush_stores_new_points_judges_them_and_throttles_latest() -> None:
    times = [NOW + second * S for second in (12, 0, 4, 8)]  # out of order
    values = [30.0, 30.0, 30.0, 30.0]
    done = ingest_tag(TAG, ExcursionState(), [], Points(times, values, [1] * 4))
    assert (done.merged.stored, done.merged.duplicates) == (4, 0)
    assert done.changes == [Started(1, NOW, NOW + 12 * S, 30.0)]
    assert done.latest == Latest(NOW + 12 * S, 30.0)
    chunks = [chunk.packed() for chunk in done.merged.chunks]
    # Resent, with one point 3 s newer: one new point, no "latest" (within 5 s), no new start.
    again = ingest_tag(TAG, done.state, chunks,
                       Points([*times, NOW + 15 * S], [*values, 31.0], [1] * 5))
    assert (again.merged.stored, again.merged.duplicates) == (1, 4)
    assert again.changes == [] and again.latest is None
    later = ingest_tag(TAG, again.state, [], Points([NOW + 12 * S + LATEST_INTERVAL_US], [22.0],
                                                    [1]))
    assert later.latest == Latest(NOW + 12 * S + LATEST_INTERVAL_US, 22.0)


def test_pages_stay_under_their_byte_budget() -> None:
    span = ([-(2**62) + index for index in range(1000)], [1.5] * 1000, [3] * 1000)
    pages = list(raw_pages([span, span], "Cel", budget=4000))
    assert all(page.ByteSize() <= 4000 for page in pages)
    assert sum(len(page.time_us) for page in pages) == 2000
    assert list(pages[0].time_us[:2]) == span[0][:2] and pages[0].unit == "Cel"
    bucket = Bucket(-(2**62), 2**40, -1.5e300, 1.5e300, 0.1)
    bucket_list = list(bucket_pages([[bucket] * 500], "Cel", budget=3000))
    assert all(page.ByteSize() <= 3000 for page in bucket_list)
    assert sum(len(page.buckets) for page in bucket_list) == 500
    assert [page.unit for page in raw_pages([], "Cel", budget=4000)] == ["Cel"]
