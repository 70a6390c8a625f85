"""Judging a result against a specification's test: the reportable value and the verdict.

Pure, and Decimal only (USP General Notices 7.20): the replicates are combined from the
strings entered, rounded once at the end, half-up, to the test's decimals, and the rounded
value is compared with the limits, which are never rounded. Binary floats would round
2.675 to 2.67; here it is 2.68.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum

EN_DASH = "\N{EN DASH}"
# Digits kept while averaging: far beyond any reporting precision (at most 6 decimals).
_AVERAGING_PRECISION = 34


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # outside the criterion: an OOS result


class Flag(StrEnum):
    ALERT = "alert"  # inside the acceptance range, outside the alert limits
    OUT_OF_TREND = "out_of_trend"  # breaks an SPC rule against earlier batches


@dataclass(frozen=True)
class Bound:
    value: Decimal
    exclusive: bool = False


@dataclass(frozen=True)
class Range:
    """Acceptance or alert limits; a missing bound is open (a one-sided limit)."""

    low: Bound | None = None
    high: Bound | None = None

    def contains(self, value: Decimal) -> bool:
        if self.low is not None and (
            value < self.low.value or (self.low.exclusive and value == self.low.value)
        ):
            return False
        return self.high is None or not (
            value > self.high.value or (self.high.exclusive and value == self.high.value)
        )

    def excess(self, value: Decimal) -> Decimal:
        """How far ``value`` lies outside (0 inside; the margin to the nearer bound, negated)."""
        distances = []
        if self.low is not None:
            distances.append(self.low.value - value)
        if self.high is not None:
            distances.append(value - self.high.value)
        return max(distances) if distances else Decimal("-Infinity")

    def text(self, unit: str = "") -> str:
        """As a certificate prints it: "3.5 to 4.5" with an en dash, "≤ 0.5 %", "> 0"."""
        suffix = "" if unit in ("", "1") else f" {unit}"
        low, high = self.low, self.high
        if low is not None and high is not None:
            left = f"> {low.value}" if low.exclusive else f"{low.value}"
            right = f"< {high.value}" if high.exclusive else f"{high.value}"
            return f"{left} {EN_DASH} {right}{suffix}"
        if high is not None:
            return f"{'<' if high.exclusive else '≤'} {high.value}{suffix}"
        if low is not None:
            return f"{'>' if low.exclusive else '≥'} {low.value}{suffix}"
        return "report"


@dataclass(frozen=True)
class Criterion:
    """Exactly one of: a numeric range, "not more than the LOQ", a qualitative outcome."""

    range: Range | None = None
    loq: Decimal | None = None
    outcome: str | None = None

    @property
    def qualitative(self) -> bool:
        return self.outcome is not None

    def text(self, unit: str = "") -> str:
        if self.outcome is not None:
            return self.outcome
        if self.loq is not None:
            suffix = "" if unit in ("", "1") else f" {unit}"
            return f"≤ LOQ ({self.loq}{suffix})"
        assert self.range is not None
        return self.range.text(unit)


@dataclass(frozen=True)
class Rule:
    """What judging needs of a specification's test."""

    decimals: int
    criterion: Criterion
    average_replicates: bool = True
    alert: Range | None = None


@dataclass(frozen=True)
class Entered:
    """A result as the analyst entered it: replicate values, an outcome, or below the LOQ."""

    replicates: tuple[Decimal, ...] = ()
    outcome: str = ""
    below_loq: bool = False


@dataclass(frozen=True)
class Judgement:
    # The value compared with the limits (rounded); None for an outcome or "< LOQ".
    reportable: Decimal | None
    verdict: Verdict
    flags: tuple[Flag, ...] = ()

    @property
    def reportable_text(self) -> str:
        return "" if self.reportable is None else str(self.reportable)


def round_half_up(value: Decimal, decimals: int) -> Decimal:
    """``value`` to ``decimals`` places, a 5 rounding away from zero (4.45 → 4.5, -4.45 → -4.5)."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def mean(values: Sequence[Decimal]) -> Decimal:
    """Exact enough to round once: no intermediate rounding to the reporting precision."""
    with localcontext() as context:
        context.prec = _AVERAGING_PRECISION
        return sum(values, Decimal(0)) / len(values)


def judge(rule: Rule, entered: Entered) -> Judgement:
    """The reportable value and verdict of ``entered``; the caller has checked that its kind
    fits the criterion (an outcome for a qualitative test, replicates otherwise)."""
    criterion = rule.criterion
    if criterion.outcome is not None:
        conforms = entered.outcome.strip() == criterion.outcome.strip()
        return Judgement(None, Verdict.PASS if conforms else Verdict.FAIL)
    if criterion.loq is not None and entered.below_loq:
        return Judgement(None, Verdict.PASS)
    acceptance = criterion.range or Range(high=Bound(criterion.loq or Decimal(0)))
    if rule.average_replicates:
        reportable = round_half_up(mean(entered.replicates), rule.decimals)
    else:
        # Each replicate is judged: the one farthest outside (or nearest a limit) is reported.
        rounded = [round_half_up(value, rule.decimals) for value in entered.replicates]
        reportable = max(rounded, key=acceptance.excess)
    if not acceptance.contains(reportable):
        return Judgement(reportable, Verdict.FAIL)
    flags = (Flag.ALERT,) if rule.alert is not None and not rule.alert.contains(reportable) else ()
    return Judgement(reportable, Verdict.PASS, flags)
