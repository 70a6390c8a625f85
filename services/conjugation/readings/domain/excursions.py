"""The excursion state machine of one tag: outside its limits for at least its dwell.

Fed a tag's points in time order, it tells when an excursion starts (at the point where the
dwell is reached; it names the first time outside) and when it ends (the first point back
inside, with the extreme value and the duration). A blip back inside before the dwell is
reached raises nothing. Its state is a small dict, stored with the tag, so an excursion
survives a restart; a point at or before the newest time it has judged (a resend, or a late
point) is not judged again, so no point raises a second start.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from enum import IntEnum
from typing import Any

from services.conjugation.readings.domain.tags import Limits


class Quality(IntEnum):
    """A point's quality as its source tells it (the numbers of the API's Quality)."""

    UNSPECIFIED = 0
    GOOD = 1
    UNCERTAIN = 2
    BAD = 3


@dataclass(frozen=True)
class ExcursionState:
    """Where one tag's machine stands."""

    judged_until_us: int | None = None  # the newest point judged
    out_since_us: int | None = None  # the first point of the run of points outside
    extreme: float = 0.0  # the value farthest outside in that run
    started: bool = False  # the run lasted its dwell: an excursion is under way
    number: int = 0  # excursions started so far (the current one's number once started)
    latest_sent_us: int | None = None  # the last "latest" event's point time

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExcursionState:
        return cls(**data)


@dataclass(frozen=True)
class Started:
    number: int
    first_out_us: int  # the first point outside
    at_us: int  # the point where the dwell was reached
    extreme: float


@dataclass(frozen=True)
class Ended:
    number: int
    first_out_us: int
    end_us: int  # the first point back inside
    extreme: float

    @property
    def duration_us(self) -> int:
        return self.end_us - self.first_out_us


Change = Started | Ended


def _beyond(limits: Limits, value: float) -> float:
    """How far ``value`` lies outside the limits (0 inside, inclusive limits)."""
    if limits.high is not None and value > limits.high:
        return value - limits.high
    if limits.low is not None and value < limits.low:
        return limits.low - value
    return 0.0


def judge(
    state: ExcursionState, limits: Limits, times: list[int], values: list[float],
    qualities: list[int],
) -> tuple[ExcursionState, list[Change]]:
    """The machine after the points given (ascending times), and what started or ended.

    Points of BAD quality are not judged (a failed probe is no process excursion); NaN is no
    value and is not judged either.
    """
    changes: list[Change] = []
    judged, out_since, extreme, started, number = (
        state.judged_until_us, state.out_since_us, state.extreme, state.started, state.number
    )
    for time_us, value, quality in zip(times, values, qualities, strict=True):
        if judged is not None and time_us <= judged:
            continue
        if quality == Quality.BAD or math.isnan(value):
            continue
        judged = time_us
        distance = _beyond(limits, value)
        if distance == 0.0:
            if out_since is not None and started:
                changes.append(Ended(number, out_since, time_us, extreme))
            out_since, started = None, False
            continue
        if out_since is None:
            out_since, extreme = time_us, value
        elif distance > _beyond(limits, extreme):
            extreme = value
        if not started and time_us - out_since >= limits.dwell_us:
            started, number = True, number + 1
            changes.append(Started(number, out_since, time_us, extreme))
    return replace(state, judged_until_us=judged, out_since_us=out_since, extreme=extreme,
                   started=started, number=number), changes
