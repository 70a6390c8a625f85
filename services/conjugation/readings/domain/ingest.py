"""What ingesting points decides: their checks, and for each tag the merge into its chunks,
the excursions they start or end, and whether they make a "latest" point."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from services.common.domain.errors import FailedPrecondition, Violations
from services.conjugation.readings.domain.chunks import Merged, Packed, TagChunks
from services.conjugation.readings.domain.excursions import (
    Change,
    ExcursionState,
    Quality,
    judge,
)
from services.conjugation.readings.domain.tags import Tag

POINTS_PER_MESSAGE = 10_000
# At most once per tag per this much source time, a tag's latest point is published.
LATEST_INTERVAL_US = 5 * 1_000_000
# Points a little ahead of the server's clock are a clock's drift; further ahead a fault,
# which would also hold back every later point from its excursion machine.
AHEAD_US = 5 * 60 * 1_000_000
# The range of google.protobuf.Timestamp, in microseconds.
MIN_TIME_US = -62_135_596_800 * 1_000_000
MAX_TIME_US = 253_402_300_799 * 1_000_000
# Past this many, a message's further bad points are not listed (a status lists 20).
LISTED_VIOLATIONS = 20
QUALITIES = frozenset(int(quality) for quality in Quality)


@dataclass
class Points:
    """Points of one tag, in the order received."""

    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    qualities: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.times)


@dataclass(frozen=True)
class Received:
    """One message's points, column by column, as the API gave them."""

    tags: Sequence[str]
    times: Sequence[int]
    values: Sequence[float]
    units: Sequence[str]
    qualities: Sequence[int]


def check_points(
    received: Received, tags: Mapping[str, Tag], *, run_name: str, now_us: int,
) -> None:
    """Refuses the message unless every point names a declared tag of the run, in its unit,
    at a time within range and not far ahead of ``now_us``, with a finite value and a known
    quality; the status names each bad point (``points[i].field``), the first 20 of them."""
    count = len(received.times)
    violations = Violations()
    if count > POINTS_PER_MESSAGE:
        violations.add("points", f"holds {count} points; at most {POINTS_PER_MESSAGE} a message")
        violations.raise_if_any()
    latest = now_us + AHEAD_US
    for index in range(count):
        name = received.tags[index]
        tag = tags.get(name)
        if tag is None:
            raise FailedPrecondition(
                "TAG_NOT_DECLARED",
                f"tag {name[:64]!r} (points[{index}].tag) is not declared on {run_name}: "
                "declare it with DeclareTag first",
                tag=name, run=run_name,
            )
        if received.units[index] != tag.unit:
            violations.add(f"points[{index}].unit", f"{received.units[index][:64]!r} is not "
                           f"the unit of {name}, {tag.unit} (points are never converted)")
        time_us = received.times[index]
        if not MIN_TIME_US <= time_us <= latest:
            violations.add(f"points[{index}].time_us", "must be within 0001-01-01 and 5 "
                           "minutes after the server's clock")
        if not math.isfinite(received.values[index]):
            violations.add(f"points[{index}].value", "must be a finite number")
        if received.qualities[index] not in QUALITIES:
            violations.add(f"points[{index}].quality", "is not a known quality")
        if len(violations.items) >= LISTED_VIOLATIONS:
            break
    violations.raise_if_any()


def add_points(received: Received, into: dict[str, Points]) -> None:
    """The message's points (checked), each appended to its tag's."""
    for index, name in enumerate(received.tags):
        points = into.get(name)
        if points is None:
            points = into[name] = Points()
        points.times.append(received.times[index])
        points.values.append(received.values[index])
        points.qualities.append(received.qualities[index])


@dataclass(frozen=True)
class Latest:
    time_us: int
    value: float


@dataclass(frozen=True)
class TagIngest:
    """What one tag's new points did."""

    merged: Merged
    state: ExcursionState
    changes: list[Change]
    latest: Latest | None


def ingest_tag(
    tag: Tag, state: ExcursionState, chunks: Sequence[Packed], points: Points
) -> TagIngest:
    """Merges the points into the chunks that may hold their times (each point not stored
    before is stored once), judges the new ones, and says whether the newest is a "latest"."""
    order = sorted(range(len(points)), key=points.times.__getitem__)
    times = [points.times[index] for index in order]
    values = [points.values[index] for index in order]
    qualities = [points.qualities[index] for index in order]
    merged = TagChunks(chunks).merge(times, values, qualities)
    new_times = [times[index] for index in merged.new]
    new_values = [values[index] for index in merged.new]
    state, changes = judge(state, tag.limits, new_times, new_values,
                           [qualities[index] for index in merged.new])
    latest = None
    if new_times and (state.latest_sent_us is None
                      or new_times[-1] - state.latest_sent_us >= LATEST_INTERVAL_US):
        latest = Latest(new_times[-1], new_values[-1])
        state = replace(state, latest_sent_us=new_times[-1])
    return TagIngest(merged, state, changes, latest)
