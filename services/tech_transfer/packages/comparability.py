"""Comparability of an attribute between the sending and the receiving site's batches: two
one-sided tests (TOST) against an equivalence margin (pure).

The difference is receiving - sending. Variances are pooled (``ttost_ind(usevar="pooled")``,
df = n₁ + n₂ - 2): both sites run the same process with the same analytical method, so one
process variance is the model, and with the few batches a transfer has (3 to 5 a site) Welch's
Satterthwaite degrees of freedom swing with every batch. A difference in spread between the
sites is a question of its own, not one this test answers.

The interval is the (1 - 2 alpha) confidence interval of the difference (90 % for alpha = 0.05),
d ± t(1 - alpha, df) · s_p · √(1/n₁ + 1/n₂), from the same pooled standard error as the test, so
"the interval lies inside (-margin, +margin)" and "p < alpha" are one verdict. The verdict is taken
on unrounded numbers; the reported numbers are rounded half-even to ``PLACES`` decimals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from scipy import stats
from statsmodels.stats.weightstats import ttost_ind

from services.common.domain.errors import Violations

PLACES = 4
QUANTUM = Decimal(1).scaleb(-PLACES)
MIN_VALUES = 2  # a standard deviation needs two values on each side


class Verdict(StrEnum):
    EQUIVALENT = "equivalent"
    NOT_EQUIVALENT = "not_equivalent"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True)
class Comparison:
    """One attribute compared. Means are None for a side without values; the difference,
    interval and p-value are None when the data are insufficient."""

    attribute: str
    sending_n: int
    sending_mean: Decimal | None
    receiving_n: int
    receiving_mean: Decimal | None
    difference: Decimal | None  # receiving - sending
    lower: Decimal | None  # of the (1 - 2 alpha) confidence interval of the difference
    upper: Decimal | None
    margin: Decimal
    alpha: Decimal
    p_value: Decimal | None  # TOST: the larger of the two one-sided p-values
    verdict: Verdict

    @property
    def confidence(self) -> Decimal:
        """The interval's confidence level, e.g. 0.90."""
        return 1 - 2 * self.alpha


def compare(
    attribute: str, sending: Sequence[Decimal], receiving: Sequence[Decimal], margin: Decimal,
    *, min_batches: int = MIN_VALUES, alpha: Decimal = Decimal("0.05"),
) -> Comparison:
    """Whether the receiving site's mean is within ±``margin`` of the sending site's.

    INSUFFICIENT_DATA when either side has fewer than ``min_batches`` values (never fewer
    than two). Raises InvalidArgument naming ``margin`` unless it is a finite number above
    zero, ``alpha`` unless 0 < alpha < 0.5, and any value that is not finite.
    """
    _check(sending, receiving, margin, alpha)
    needed = max(MIN_VALUES, min_batches)
    sending_mean, receiving_mean = _mean(sending), _mean(receiving)
    if len(sending) < needed or len(receiving) < needed:
        return Comparison(
            attribute, len(sending), _round(sending_mean), len(receiving),
            _round(receiving_mean), None, None, None, margin, alpha, None,
            Verdict.INSUFFICIENT_DATA,
        )
    assert sending_mean is not None and receiving_mean is not None
    received = [float(value) for value in receiving]
    sent = [float(value) for value in sending]
    bound = float(margin)
    difference = float(receiving_mean - sending_mean)
    df = len(sent) + len(received) - 2
    pooled_variance = (
        _sum_of_squares(receiving, receiving_mean) + _sum_of_squares(sending, sending_mean)
    ) / df
    standard_error = math.sqrt(float(pooled_variance) * (1 / len(sent) + 1 / len(received)))
    if standard_error == 0:
        # Every value alike on both sides: no spread to test against, the difference is exact.
        p_value = 0.0 if -bound < difference < bound else 1.0
        lower = upper = difference
    else:
        p_value = float(ttost_ind(received, sent, -bound, bound, usevar="pooled")[0])
        half_width = float(stats.t.ppf(1 - float(alpha), df)) * standard_error
        lower, upper = difference - half_width, difference + half_width
    verdict = Verdict.EQUIVALENT if p_value < float(alpha) else Verdict.NOT_EQUIVALENT
    return Comparison(
        attribute, len(sending), _round(sending_mean), len(receiving), _round(receiving_mean),
        _round(receiving_mean - sending_mean), _round_float(lower), _round_float(upper),
        margin, alpha, _round_float(p_value), verdict,
    )


def _check(
    sending: Sequence[Decimal], receiving: Sequence[Decimal], margin: Decimal, alpha: Decimal
) -> None:
    violations = Violations()
    if not margin.is_finite() or margin <= 0:
        violations.add("margin", "must be a number above zero")
    if not alpha.is_finite() or not 0 < alpha < Decimal("0.5"):
        violations.add("alpha", "must be above 0 and below 0.5")
    for side, values in (("sending", sending), ("receiving", receiving)):
        for index, value in enumerate(values):
            if not value.is_finite():
                violations.add(f"{side}[{index}]", "must be a finite number")
    violations.raise_if_any()


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    # Decimal arithmetic: the means and the difference are exact for recorded values.
    return sum(values, Decimal(0)) / len(values) if values else None


def _sum_of_squares(values: Sequence[Decimal], mean: Decimal) -> Decimal:
    return sum(((value - mean) ** 2 for value in values), Decimal(0))


def _round(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(QUANTUM)


def _round_float(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(QUANTUM)
