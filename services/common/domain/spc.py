"""Statistical process control: an individuals chart and the published run rules (pure).

Limits come from a baseline window and are then frozen: points added later are judged
against them and never move them. Sigma is estimated from the average moving range
(MR-bar / d2, d2 = 1.128 for ranges of two), as for any individuals (I-MR) chart.

Rule sets, as published (Western Electric Statistical Quality Control Handbook, 1956; Lloyd
S. Nelson, "The Shewhart Control Chart: Tests for Special Causes", JQT 16(4), 1984):

- Western Electric 1: one point beyond 3 sigma. 2: two of three in a row beyond 2 sigma,
  same side. 3: four of five in a row beyond 1 sigma, same side. 4: eight in a row on one
  side of the centre line.
- Nelson 1: one point beyond 3 sigma. 2: nine in a row on one side. 3: six in a row steadily
  increasing or decreasing. 4: fourteen in a row alternating up and down. 5: two of three
  beyond 2 sigma, same side. 6: four of five beyond 1 sigma, same side. 7: fifteen in a row
  within 1 sigma (either side). 8: eight in a row beyond 1 sigma, with points on both sides.

A rule is reported at the point that completes it, and for the "k of n" rules only where that
point is itself one of the k. The run length of the "same side" rule (8 or 9) can be set.
A point exactly on the centre line is on neither side; one exactly on a sigma line is not
beyond it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

D2 = Decimal("1.128")  # E[range] / sigma for subgroups of two (the moving range)
MIN_BASELINE = 2


class Rule(StrEnum):
    WE1 = "WE1"
    WE2 = "WE2"
    WE3 = "WE3"
    WE4 = "WE4"
    NELSON1 = "N1"
    NELSON2 = "N2"
    NELSON3 = "N3"
    NELSON4 = "N4"
    NELSON5 = "N5"
    NELSON6 = "N6"
    NELSON7 = "N7"
    NELSON8 = "N8"


WESTERN_ELECTRIC = (Rule.WE1, Rule.WE2, Rule.WE3, Rule.WE4)
NELSON = (
    Rule.NELSON1, Rule.NELSON2, Rule.NELSON3, Rule.NELSON4,
    Rule.NELSON5, Rule.NELSON6, Rule.NELSON7, Rule.NELSON8,
)


@dataclass(frozen=True)
class Limits:
    """A chart's centre line and sigma, frozen once made from the baseline."""

    centre: Decimal
    sigma: Decimal
    baseline_size: int

    def line(self, multiple: int) -> Decimal:
        return self.centre + multiple * self.sigma

    def zone(self, value: Decimal) -> Decimal:
        """How many sigmas ``value`` lies from the centre, signed."""
        return (value - self.centre) / self.sigma


@dataclass(frozen=True)
class Point:
    index: int
    value: Decimal
    broken: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    # The run length of the "same side" rule: 8 for Western Electric 4, 9 for Nelson 2.
    same_side_run: dict[Rule, int] = field(
        default_factory=lambda: {Rule.WE4: 8, Rule.NELSON2: 9}
    )


def baseline_limits(values: Sequence[Decimal]) -> Limits:
    """Centre and sigma of an individuals chart from its baseline window."""
    if len(values) < MIN_BASELINE:
        raise ValueError(f"a baseline needs at least {MIN_BASELINE} points, got {len(values)}")
    centre = sum(values, Decimal(0)) / len(values)
    ranges = [abs(b - a) for a, b in itertools.pairwise(values)]
    sigma = sum(ranges, Decimal(0)) / len(ranges) / D2
    if sigma <= 0:
        raise ValueError("the baseline has no variation: its moving ranges are all zero")
    return Limits(centre=centre, sigma=sigma, baseline_size=len(values))


def evaluate(
    values: Sequence[Decimal], limits: Limits, rule_set: RuleSet | None = None
) -> list[Point]:
    """Each point with the rules of ``rule_set`` (Nelson's eight unless given) it breaks,
    judged against frozen limits."""
    rule_set = rule_set if rule_set is not None else RuleSet(NELSON)
    zones = [limits.zone(value) for value in values]
    broken: list[list[Rule]] = [[] for _ in values]
    for rule in rule_set.rules:
        check = _CHECKS[rule]
        run = rule_set.same_side_run.get(rule, 0)
        for index in range(len(values)):
            if check(zones, values, index, run):
                broken[index].append(rule)
    return [
        Point(index, value, tuple(rules))
        for index, (value, rules) in enumerate(zip(values, broken, strict=True))
    ]


# --- the tests, each asked at the point that would complete it ------------------------------

Check = Callable[[list[Decimal], Sequence[Decimal], int, int], bool]


def _side(zone: Decimal) -> int:
    return (zone > 0) - (zone < 0)


def _beyond(zones: list[Decimal], index: int, count: int, of: int, sigmas: int) -> bool:
    """``count`` of the ``of`` points ending at ``index`` beyond ``sigmas``, on the side of the
    point at ``index``, which is itself one of them."""
    if index + 1 < of or abs(zones[index]) <= sigmas:
        return False
    side = _side(zones[index])
    window = zones[index + 1 - of:index + 1]
    return sum(1 for zone in window if _side(zone) == side and abs(zone) > sigmas) >= count


def _one_beyond_3(zones: list[Decimal], _v: Sequence[Decimal], index: int, _r: int) -> bool:
    return abs(zones[index]) > 3


def _two_of_three(zones: list[Decimal], _v: Sequence[Decimal], index: int, _r: int) -> bool:
    return _beyond(zones, index, 2, 3, 2)


def _four_of_five(zones: list[Decimal], _v: Sequence[Decimal], index: int, _r: int) -> bool:
    return _beyond(zones, index, 4, 5, 1)


def _same_side(zones: list[Decimal], _v: Sequence[Decimal], index: int, run: int) -> bool:
    if index + 1 < run:
        return False
    sides = {_side(zone) for zone in zones[index + 1 - run:index + 1]}
    return sides in ({1}, {-1})


def _trend(_z: list[Decimal], values: Sequence[Decimal], index: int, _r: int) -> bool:
    """Six points in a row, each higher (or each lower) than the one before."""
    if index < 5:
        return False
    steps = [values[i] - values[i - 1] for i in range(index - 4, index + 1)]
    return all(step > 0 for step in steps) or all(step < 0 for step in steps)


def _alternating(_z: list[Decimal], values: Sequence[Decimal], index: int, _r: int) -> bool:
    """Fourteen points in a row going up and down in turn (13 steps, each reversing)."""
    if index < 13:
        return False
    steps = [values[i] - values[i - 1] for i in range(index - 12, index + 1)]
    return all(step != 0 for step in steps) and all(
        (a > 0) != (b > 0) for a, b in itertools.pairwise(steps)
    )


def _hugging(zones: list[Decimal], _v: Sequence[Decimal], index: int, _r: int) -> bool:
    """Fifteen points in a row within 1 sigma of the centre, on either side."""
    return index >= 14 and all(abs(zone) < 1 for zone in zones[index - 14:index + 1])


def _mixture(zones: list[Decimal], _v: Sequence[Decimal], index: int, _r: int) -> bool:
    """Eight points in a row, none within 1 sigma, with points on both sides."""
    if index < 7:
        return False
    window = zones[index - 7:index + 1]
    return all(abs(zone) > 1 for zone in window) and {_side(zone) for zone in window} == {1, -1}


_CHECKS: dict[Rule, Check] = {
    Rule.WE1: _one_beyond_3, Rule.WE2: _two_of_three, Rule.WE3: _four_of_five,
    Rule.WE4: _same_side,
    Rule.NELSON1: _one_beyond_3, Rule.NELSON2: _same_side, Rule.NELSON3: _trend,
    Rule.NELSON4: _alternating, Rule.NELSON5: _two_of_three, Rule.NELSON6: _four_of_five,
    Rule.NELSON7: _hugging, Rule.NELSON8: _mixture,
}
