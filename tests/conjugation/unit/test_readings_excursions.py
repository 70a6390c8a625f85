"""The excursion machine of one tag: one start at the dwell, one end back inside, no blips,
no second start from resends or late points, and a state that survives a restart."""

from __future__ import annotations

import json

from services.conjugation.readings.domain.excursions import (
    Ended,
    ExcursionState,
    Started,
    judge,
)
from services.conjugation.readings.domain.tags import Limits

S = 1_000_000
LIMITS = Limits(low=20.0, high=25.0, dwell_us=30 * S)


def feed(state: ExcursionState, series: list[tuple[int, float]], qualities: list[int] | None = None
         ) -> tuple[ExcursionState, list[Started | Ended]]:
    times = [second * S for second, _ in series]
    values = [value for _, value in series]
    return judge(state, LIMITS, times, values, qualities or [1] * len(series))


def test_held_out_past_the_dwell_starts_once_and_ends_once() -> None:
    # Inside, then above from 10 s on (peak 27.5 at 30 s), dwell reached at 40 s, back at 60 s.
    series = [(0, 22.0), (10, 26.0), (20, 26.5), (30, 27.5), (40, 26.0), (50, 25.5),
              (60, 25.0), (70, 23.0)]
    state, changes = feed(ExcursionState(), series)
    assert changes == [
        Started(number=1, first_out_us=10 * S, at_us=40 * S, extreme=27.5),
        Ended(number=1, first_out_us=10 * S, end_us=60 * S, extreme=27.5),
    ]
    assert changes[1].duration_us == 50 * S  # type: ignore[union-attr]
    assert not state.started and state.number == 1


def test_a_blip_shorter_than_the_dwell_raises_nothing() -> None:
    _, changes = feed(ExcursionState(), [(0, 22.0), (10, 30.0), (20, 19.0), (35, 22.0),
                                         (40, 10.0), (69, 10.0), (70, 21.0)])
    assert changes == []


def test_limits_are_inclusive_and_below_the_low_limit_counts_too() -> None:
    _, changes = feed(ExcursionState(), [(0, 20.0), (10, 25.0), (40, 20.0)])
    assert changes == []
    _, changes = feed(ExcursionState(), [(0, 19.9), (15, 18.0), (30, 19.0)])
    assert changes == [Started(1, 0, 30 * S, 18.0)]


def test_resends_and_late_points_never_start_a_second_excursion() -> None:
    series = [(0, 30.0), (30, 30.0), (31, 30.0)]
    state, first = feed(ExcursionState(), series)
    assert [type(change) for change in first] == [Started]
    state, again = feed(state, series)  # the same buffer resent
    assert again == []
    state, late = feed(state, [(5, 22.0), (15, 30.0)])  # older than what was judged
    assert late == [] and state.started
    _, ended = feed(state, [(40, 22.0)])
    assert ended == [Ended(1, 0, 40 * S, 30.0)]


def test_the_state_survives_a_restart_as_json() -> None:
    state, _ = feed(ExcursionState(), [(0, 30.0), (20, 31.0)])  # out, dwell not reached yet
    restored = ExcursionState.from_json(json.loads(json.dumps(state.to_json())))
    assert restored == state
    _, changes = feed(restored, [(30, 30.5)])
    assert changes == [Started(1, 0, 30 * S, 31.0)]


def test_bad_quality_points_are_not_judged() -> None:
    _, changes = feed(ExcursionState(), [(0, 99.0), (40, 99.0)], qualities=[3, 3])
    assert changes == []


def test_a_zero_dwell_starts_at_the_first_point_outside() -> None:
    _state, changes = judge(ExcursionState(), Limits(None, 1.0, 0), [5], [2.0], [1])
    assert changes == [Started(1, 5, 5, 2.0)]
