"""Judging results, table-driven: bounds inclusive and exclusive, open-ended ranges, the LOQ,
qualitative outcomes, alert limits, and rounding before comparison (USP <7.20>), in Decimal
where binary floats get it wrong."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.release_testing.specifications.criteria import (
    Bound,
    Criterion,
    Entered,
    Flag,
    Range,
    Rule,
    Verdict,
    judge,
    mean,
    round_half_up,
)


def d(text: str) -> Decimal:
    return Decimal(text)


def between(low: str | None, high: str | None, *, low_x: bool = False,
            high_x: bool = False) -> Range:
    return Range(None if low is None else Bound(d(low), low_x),
                 None if high is None else Bound(d(high), high_x))


def numeric(criterion: Range, decimals: int = 1, alert: Range | None = None,
            average: bool = True) -> Rule:
    return Rule(decimals, Criterion(range=criterion), average, alert)


def values(*texts: str) -> Entered:
    return Entered(tuple(d(text) for text in texts))


CASES = [
    # (what, rule, entered, reportable, verdict, flags)
    ("4.45 to 1 decimal is 4.5: fails <= 4.4", numeric(between(None, "4.4")),
     values("4.45"), "4.5", Verdict.FAIL, ()),
    ("4.44 to 1 decimal is 4.4: passes <= 4.4", numeric(between(None, "4.4")),
     values("4.44"), "4.4", Verdict.PASS, ()),
    ("the limit itself passes an inclusive bound", numeric(between("3.5", "4.5")),
     values("4.5"), "4.5", Verdict.PASS, ()),
    ("the limit itself fails an exclusive bound", numeric(between("3.5", "4.5", high_x=True)),
     values("4.5"), "4.5", Verdict.FAIL, ()),
    ("exclusive low bound", numeric(between("0", None, low_x=True), decimals=2),
     values("0.004"), "0.00", Verdict.FAIL, ()),
    ("rounds up into an exclusive low bound's range", numeric(between("0", None, low_x=True),
                                                              decimals=2),
     values("0.005"), "0.01", Verdict.PASS, ()),
    ("an open high end: >= 95.0", numeric(between("95.0", None)),
     values("99999.94"), "99999.9", Verdict.PASS, ()),
    ("limits are not rounded: 95.04 rounds to 95.0, below 95.05", numeric(between("95.05", None)),
     values("95.04"), "95.0", Verdict.FAIL, ()),
    ("half-up away from zero for negatives", numeric(between("-4.4", None)),
     values("-4.45"), "-4.5", Verdict.FAIL, ()),
    # Binary floats: round(2.675, 2) == 2.67 (2.675 is 2.67499999...); the pharmacopeia: 2.68.
    ("float gets 2.675 wrong: Decimal reports 2.68, failing <= 2.67",
     numeric(between(None, "2.67"), decimals=2), values("2.675"), "2.68", Verdict.FAIL, ()),
    ("the replicates' mean, rounded once", numeric(between(None, "1.00"), decimals=2),
     values("1.005", "1.005", "1.006"), "1.01", Verdict.FAIL, ()),
    # Rounded first (1.0, 1.0, 1.1) the mean would be 1.03 → 1.0 and pass.
    ("rounding replicates first would pass; rounding the mean once fails",
     numeric(between(None, "1.0"), decimals=1), values("1.04", "1.04", "1.07"), "1.1",
     Verdict.FAIL, ()),
    ("inside the acceptance range, outside its alert limits: flagged, not failed",
     numeric(between("3.5", "4.5"), alert=between("3.8", "4.2")), values("4.3"), "4.3",
     Verdict.PASS, (Flag.ALERT,)),
    ("inside the alert limits: no flag",
     numeric(between("3.5", "4.5"), alert=between("3.8", "4.2")), values("4.2"), "4.2",
     Verdict.PASS, ()),
    ("each replicate judged when the method does not average: the worst is reported",
     numeric(between("95.0", None), average=False), values("97.0", "94.96", "98.0"), "95.0",
     Verdict.PASS, ()),
    ("each replicate judged: one outside fails the result",
     numeric(between("95.0", None), average=False), values("97.0", "94.94", "98.0"), "94.9",
     Verdict.FAIL, ()),
    ("not more than the LOQ: below it", Rule(2, Criterion(loq=d("0.05"))),
     Entered(below_loq=True), None, Verdict.PASS, ()),
    ("not more than the LOQ: reported at it", Rule(2, Criterion(loq=d("0.05"))),
     values("0.054"), "0.05", Verdict.PASS, ()),
    ("not more than the LOQ: above it", Rule(2, Criterion(loq=d("0.05"))),
     values("0.055"), "0.06", Verdict.FAIL, ()),
    ("qualitative: the expected outcome", Rule(0, Criterion(outcome="conforms")),
     Entered(outcome=" conforms "), None, Verdict.PASS, ()),
    ("qualitative: another outcome", Rule(0, Criterion(outcome="conforms")),
     Entered(outcome="does not conform"), None, Verdict.FAIL, ()),
]


@pytest.mark.parametrize(("rule", "entered", "reportable", "verdict", "flags"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_result_is_rounded_then_judged(
    rule: Rule, entered: Entered, reportable: str | None, verdict: Verdict,
    flags: tuple[Flag, ...],
) -> None:
    judgement = judge(rule, entered)
    assert judgement.reportable_text == (reportable or "")
    assert (judgement.verdict, judgement.flags) == (verdict, flags)


def test_binary_floats_round_the_case_above_the_other_way() -> None:
    # What the Decimal arithmetic protects against: this is why no float is ever used.
    assert round(2.675, 2) == 2.67
    assert round_half_up(d("2.675"), 2) == d("2.68")


def test_the_mean_keeps_every_digit_until_the_one_rounding() -> None:
    assert mean([d("1"), d("2"), d("2")]) == d("1.666666666666666666666666666666667")
    assert round_half_up(mean([d("1.04"), d("1.04"), d("1.07")]), 1) == d("1.1")


@pytest.mark.parametrize(("criterion", "unit", "text"), [
    (Criterion(range=between("3.5", "4.5")), "1", "3.5 \N{EN DASH} 4.5"),
    (Criterion(range=between(None, "0.5")), "%", "≤ 0.5 %"),
    (Criterion(range=between("0", None, low_x=True)), "mg/mL", "> 0 mg/mL"),
    (Criterion(range=between("95.0", None)), "%", "≥ 95.0 %"),
    (Criterion(range=between("3.5", "4.5", low_x=True, high_x=True)), "",
     "> 3.5 \N{EN DASH} < 4.5"),
    (Criterion(loq=d("0.05")), "%", "≤ LOQ (0.05 %)"),
    (Criterion(outcome="conforms"), "", "conforms"),
])
def test_a_criterion_reads_as_a_certificate_prints_it(
    criterion: Criterion, unit: str, text: str
) -> None:
    assert criterion.text(unit) == text

