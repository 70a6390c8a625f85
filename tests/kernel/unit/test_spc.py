"""The SPC module (services/common/domain/spc.py): each published rule found on a series
built to break it, nothing found on an in-control series, limits frozen at the baseline."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.common.domain import spc
from services.common.domain.spc import NELSON, WESTERN_ELECTRIC, Limits, Rule, RuleSet

# Centre 0 and sigma 1: each value is its own distance from the centre in sigmas.
UNIT = Limits(centre=Decimal(0), sigma=Decimal(1), baseline_size=20)
EVERY_RULE = RuleSet(NELSON + WESTERN_ELECTRIC)
# 30 draws of a standard normal (random.Random(0).gauss, rounded): in control, though two
# points pass 2 sigma and one 2.4.
IN_CONTROL = [
    "0.94", "-1.4", "-0.68", "0.37", "-1.02", "-0.07", "0.18", "-0.83", "-1.31", "0.19",
    "0.99", "-0.65", "-0.33", "1.65", "-0.56", "-0.51", "2.4", "-1.53", "0.8", "-2.0",
    "-0.6", "1.5", "1.22", "-0.9", "-0.45", "0.08", "-1.26", "0.55", "2.23", "-1.36",
]


def series(*values: str | float) -> list[Decimal]:
    return [Decimal(str(value)) for value in values]


def where(values: list[Decimal], rule: Rule, rule_set: RuleSet = EVERY_RULE) -> list[int]:
    """The indexes of the points that break ``rule``."""
    return [p.index for p in spc.evaluate(values, UNIT, rule_set) if rule in p.broken]


@pytest.mark.parametrize(
    ("rule", "values", "at"),
    [
        (Rule.WE1, series(0, 0, 3.5, 3, -3.01), [2, 4]),  # on the 3 sigma line is not beyond
        (Rule.NELSON1, series(0, -3.5), [1]),
        (Rule.WE2, series(0, 2.5, 0.5, 2.5, -2.5), [3]),  # 2 of 3 beyond 2 sigma, same side
        (Rule.NELSON5, series(0, 2.5, 2.5), [2]),
        (Rule.WE3, series(0, 1.5, 1.5, 0.5, 1.5, 1.5), [5]),  # 4 of 5 beyond 1 sigma
        (Rule.NELSON6, series(0, -1.5, -1.5, -1.5, -1.5), [4]),
        (Rule.WE4, series(*[0.5] * 8, 0, -0.5), [7]),  # 8 on one side
        (Rule.NELSON2, series(*[-0.5] * 10), [8, 9]),  # 9 on one side
        (Rule.NELSON3, series(0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.4), [5]),  # 6 rising
        (Rule.NELSON3, series(0.5, 0.4, 0.3, 0.2, 0.1, 0), [5]),  # 6 falling
        (Rule.NELSON4, series(*[0.1, -0.1] * 7), [13]),  # 14 alternating
        (Rule.NELSON7, series(*[0.1, 0.2, -0.1, -0.2] * 4)[:15], [14]),  # 15 within 1 sigma
        (Rule.NELSON8, series(*[1.5, -1.5] * 4), [7]),  # 8 beyond 1 sigma, both sides
    ],
)
def test_each_rule_is_found_where_its_series_completes_it(
    rule: Rule, values: list[Decimal], at: list[int]
) -> None:
    assert where(values, rule) == at


@pytest.mark.parametrize(
    ("rule", "values"),
    [
        (Rule.WE2, series(2.5, 0, 0, 2.5)),  # two beyond, but never two within three
        (Rule.WE2, series(0, 2.5, -2.5)),  # beyond on opposite sides
        (Rule.WE2, series(2.5, 2.5, 0)),  # the point that would complete it is not beyond
        (Rule.WE4, series(*[0.5] * 7)),  # one short
        (Rule.WE4, series(*[0.5] * 4, 0, *[0.5] * 4)),  # a point on the centre line
        (Rule.NELSON3, series(0, 0.1, 0.2, 0.3, 0.4)),  # five, not six
        (Rule.NELSON3, series(0, 0.1, 0.2, 0.2, 0.3, 0.4)),  # a flat step
        (Rule.NELSON4, series(*[0.1, -0.1] * 6, 0.1)),  # thirteen
        (Rule.NELSON7, series(*[0.1, 0.2, -0.1, -0.2] * 4)[:14]),  # fourteen
        (Rule.NELSON8, series(*[1.5] * 8)),  # one side only
        (Rule.NELSON6, series(-1.5, -1.5, -1.5, -1.5)),  # four points are no window of five
    ],
)
def test_a_near_miss_breaks_nothing(rule: Rule, values: list[Decimal]) -> None:
    assert where(values, rule) == []


def test_an_in_control_series_breaks_no_rule() -> None:
    points = spc.evaluate(series(*IN_CONTROL), UNIT, EVERY_RULE)
    assert [p for p in points if p.broken] == []


def test_the_same_side_run_length_is_set_per_rule_set() -> None:
    seven = RuleSet((Rule.NELSON2,), same_side_run={Rule.NELSON2: 7})
    assert where(series(*[0.5] * 8), Rule.NELSON2, seven) == [6, 7]


def test_limits_come_from_the_moving_range_and_stay_frozen() -> None:
    baseline = series(1, 2, 1, 2, 1, 2)
    limits = spc.baseline_limits(baseline)
    assert limits.centre == Decimal("1.5")
    assert limits.sigma == Decimal(1) / Decimal("1.128")  # mean moving range 1, d2 1.128
    later = [*baseline, *series(9, 9, 9)]
    judged = spc.evaluate(later, limits, RuleSet((Rule.NELSON1,)))
    assert [p.index for p in judged if p.broken] == [6, 7, 8]
    # Limits made again with the new points would have moved; the frozen ones did not.
    assert spc.baseline_limits(later) != limits
    assert limits == Limits(Decimal("1.5"), Decimal(1) / Decimal("1.128"), 6)


def test_a_baseline_without_variation_is_refused() -> None:
    with pytest.raises(ValueError, match="no variation"):
        spc.baseline_limits(series(5, 5, 5))
    with pytest.raises(ValueError, match="at least 2"):
        spc.baseline_limits(series(5))
