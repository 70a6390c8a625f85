"""A sample's pure rules: assignments from several specifications, and out of trend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.common.domain.errors import FailedPrecondition
from services.common.domain.roles import Principal, Role
from services.release_testing.samples.domain import (
    TREND_MIN_HISTORY,
    assignments_from,
    trend_rules,
)
from services.release_testing.specifications import domain as specs
from services.release_testing.specifications.criteria import Bound, Criterion, Range
from services.release_testing.specifications.domain import Purpose, SpecTest

NOW = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
AUTHOR = Principal("syracuse.analyst", "A", frozenset({Role.QC_ANALYST}), "syracuse")
DAR = SpecTest("DAR", "average DAR", "HIC-001", "1", 1, 2, True,
               Criterion(range=Range(Bound(Decimal("3.5")), Bound(Decimal("4.5")))))
MONOMER = SpecTest("SEC", "monomer", "SEC-002", "%", 1, 1, True,
                   Criterion(range=Range(Bound(Decimal("95.0")))))


def spec(number: int, *tests: SpecTest, purpose: Purpose = Purpose.RELEASE) -> specs.Specification:
    return specs.create_specification(
        spec_id=f"SYR-SP-00000{number}", site="syracuse", product="TWX-101", purpose=purpose,
        market="EU" if purpose is Purpose.MARKET else "", title="t", tests=tests,
        author=AUTHOR, now=NOW)


def test_one_assignment_per_attribute_and_method_judged_by_each_specification() -> None:
    release, market = spec(1, DAR, MONOMER), spec(2, replace(DAR, test_id="DAR-EU"),
                                                  purpose=Purpose.MARKET)
    assignments = assignments_from([release, market])
    assert [(a.assignment_id, a.attribute) for a in assignments] == [
        ("A1", "average DAR"), ("A2", "monomer")]
    assert [(t.specification, t.test_id) for t in assignments[0].applied] == [
        (release.name, "DAR"), (market.name, "DAR-EU")]


def test_specifications_that_test_one_attribute_in_two_units_are_refused() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        assignments_from([spec(1, MONOMER), spec(2, replace(MONOMER, unit="1"))])
    assert refused.value.reason == "SPECIFICATIONS_DISAGREE"


def test_out_of_trend_is_judged_against_earlier_results_once_there_are_enough() -> None:
    history = [Decimal(v) for v in ("98.0", "98.2", "97.9", "98.1", "98.0", "97.8", "98.1",
                                    "98.0")]
    assert len(history) == TREND_MIN_HISTORY
    assert trend_rules(history, Decimal("98.1")) == ()
    assert trend_rules(history, Decimal("96.5")) == ("N1",)  # beyond 3 sigma of the baseline
    assert trend_rules(history[:-1], Decimal("96.5")) == ()  # too little history to judge
    assert trend_rules([Decimal("98.0")] * 10, Decimal("96.5")) == ()  # no sigma
