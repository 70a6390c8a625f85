"""Comparability by two one-sided tests, against a worked example done by hand: means, the 90 %
interval of the difference, the p-value and the verdict; a case that is not equivalent; too
few batches; and the refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.common.domain.errors import InvalidArgument
from services.tech_transfer.packages.comparability import Comparison, Verdict, compare


def decimals(*values: str) -> list[Decimal]:
    return [Decimal(value) for value in values]


# Average DAR of five batches at each site.
SENDING = decimals("3.9", "4.0", "4.1", "4.0", "3.95")
RECEIVING = decimals("4.05", "4.0", "4.1", "3.98", "4.02")
MARGIN = Decimal("0.2")

# Worked by hand:
#   sending:   sum 19.95, mean 3.99; deviations -0.09 0.01 0.11 0.01 -0.04,
#              sum of squares 0.0081 + 0.0001 + 0.0121 + 0.0001 + 0.0016 = 0.0220
#   receiving: sum 20.15, mean 4.03; deviations 0.02 -0.03 0.07 -0.05 -0.01,
#              sum of squares 0.0004 + 0.0009 + 0.0049 + 0.0025 + 0.0001 = 0.0088
#   d = 4.03 - 3.99 = 0.04 (receiving - sending)
#   df = 5 + 5 - 2 = 8; pooled variance (0.0220 + 0.0088) / 8 = 0.00385, s_p = 0.062048
#   SE = s_p * sqrt(1/5 + 1/5) = sqrt(0.00385 * 0.4) = sqrt(0.00154) = 0.039243
#   t(0.95, 8) = 1.859548 (t table); half width 1.859548 * 0.039243 = 0.072974
#   90 % interval: 0.04 -/+ 0.072974 = [-0.0330, 0.1130], inside (-0.2, 0.2): equivalent
#   lower test: t1 = (d + 0.2) / SE = 0.24 / 0.039243 = 6.1158, p1 = P(T8 > 6.1158) = 0.00014
#   upper test: t2 = (d - 0.2) / SE = -0.16 / 0.039243 = -4.0772, p2 = P(T8 < -4.0772) = 0.00177
#   TOST p = max(p1, p2) = 0.0018 < 0.05
EXPECTED = Comparison(
    attribute="average_dar", sending_n=5, sending_mean=Decimal("3.9900"), receiving_n=5,
    receiving_mean=Decimal("4.0300"), difference=Decimal("0.0400"),
    lower=Decimal("-0.0330"), upper=Decimal("0.1130"), margin=MARGIN, alpha=Decimal("0.05"),
    p_value=Decimal("0.0018"), verdict=Verdict.EQUIVALENT,
)


def test_the_worked_example_is_equivalent() -> None:
    result = compare("average_dar", SENDING, RECEIVING, MARGIN, min_batches=3)
    assert result == EXPECTED
    assert result.confidence == Decimal("0.90")


def test_a_narrower_margin_than_the_interval_is_not_equivalent() -> None:
    # Margin 0.1: the interval's upper end 0.1130 is beyond +0.1.
    #   t2 = (0.04 - 0.1) / 0.039243 = -1.5289, p2 = P(T8 < -1.5289) = 0.0824 >= 0.05
    result = compare("average_dar", SENDING, RECEIVING, Decimal("0.1"))
    assert (result.lower, result.upper) == (Decimal("-0.0330"), Decimal("0.1130"))
    assert result.p_value == Decimal("0.0824")
    assert result.verdict is Verdict.NOT_EQUIVALENT


def test_a_shifted_receiving_mean_is_not_equivalent() -> None:
    # Every receiving batch 0.2 higher: d = 0.24, the same spread, so the same SE and half
    # width: interval [0.24 - 0.072974, 0.24 + 0.072974] = [0.1670, 0.3130], beyond +0.2.
    #   t2 = (0.24 - 0.2) / 0.039243 = 1.0193, p2 = P(T8 < 1.0193) = 0.83105 → 0.8311
    shifted = [value + Decimal("0.2") for value in RECEIVING]
    result = compare("average_dar", SENDING, shifted, MARGIN)
    assert result.difference == Decimal("0.2400")
    assert (result.lower, result.upper) == (Decimal("0.1670"), Decimal("0.3130"))
    assert result.p_value == Decimal("0.8311")
    assert result.verdict is Verdict.NOT_EQUIVALENT


@pytest.mark.parametrize(("shift", "margin"), [
    ("0", "0.2"), ("0", "0.1"), ("0.2", "0.2"), ("-0.1", "0.15"), ("0.05", "0.13"),
    ("-0.3", "0.5"), ("0.1", "0.2"),
])
def test_the_interval_and_the_verdict_agree(shift: str, margin: str) -> None:
    receiving = [value + Decimal(shift) for value in RECEIVING]
    result = compare("average_dar", SENDING, receiving, Decimal(margin))
    assert result.lower is not None and result.upper is not None
    inside = -result.margin < result.lower and result.upper < result.margin
    assert (result.verdict is Verdict.EQUIVALENT) == inside
    assert result.p_value is not None
    assert (result.p_value < result.alpha) == inside


def test_too_few_batches_is_insufficient_data() -> None:
    result = compare("average_dar", SENDING, RECEIVING[:2], MARGIN, min_batches=3)
    assert result.verdict is Verdict.INSUFFICIENT_DATA
    assert (result.receiving_n, result.receiving_mean) == (2, Decimal("4.0250"))
    assert (result.difference, result.lower, result.upper, result.p_value) == (
        None, None, None, None
    )
    # Below two values on a side there is no standard deviation, whatever the package says.
    assert compare("monomer", SENDING, RECEIVING[:1], MARGIN, min_batches=1).verdict is (
        Verdict.INSUFFICIENT_DATA
    )
    empty = compare("monomer", [], RECEIVING, MARGIN)
    assert (empty.verdict, empty.sending_n, empty.sending_mean) == (
        Verdict.INSUFFICIENT_DATA, 0, None
    )


def test_identical_values_on_both_sides_are_exact() -> None:
    flat = decimals("98.5", "98.5", "98.5")
    result = compare("monomer", flat, flat, Decimal("1"))
    assert (result.lower, result.upper, result.p_value, result.verdict) == (
        Decimal("0.0000"), Decimal("0.0000"), Decimal("0.0000"), Verdict.EQUIVALENT
    )


@pytest.mark.parametrize("margin", ["0", "-0.2", "NaN", "Infinity"])
def test_a_margin_must_be_above_zero(margin: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        compare("average_dar", SENDING, RECEIVING, Decimal(margin))
    assert [v.field for v in refused.value.violations] == ["margin"]


def test_alpha_and_values_are_checked() -> None:
    with pytest.raises(InvalidArgument) as refused:
        compare("average_dar", [*SENDING, Decimal("NaN")], RECEIVING, MARGIN,
                alpha=Decimal("0.5"))
    assert [v.field for v in refused.value.violations] == ["alpha", "sending[5]"]
