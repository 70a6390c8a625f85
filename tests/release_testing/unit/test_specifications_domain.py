"""A specification version's rules, without a database: its content, and its states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.common.domain.errors import FailedPrecondition, Violations
from services.common.domain.roles import Principal, Role
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from services.release_testing.specifications import domain
from services.release_testing.specifications.criteria import Bound, Criterion, Range
from services.release_testing.specifications.domain import Purpose, SpecTest, State

NOW = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
AUTHOR = Principal("syracuse.analyst", "Min-jun Park", frozenset({Role.QC_ANALYST}), "syracuse")


def dar(alert: Range | None = None) -> SpecTest:
    return SpecTest("DAR", "average DAR", "HIC-001", "1", 1, 2, True,
                    Criterion(range=Range(Bound(Decimal("3.5")), Bound(Decimal("4.5")))), alert)


def signed(signer: str, meaning: SignatureMeaning) -> SignatureRecord:
    return SignatureRecord(signer, signer.title(), meaning, NOW)


def draft() -> domain.Specification:
    return domain.create_specification(
        spec_id="SYR-SP-000001", site="syracuse", product="TWX-101", purpose=Purpose.RELEASE,
        market="", title="TWX-101 release", tests=(dar(),), author=AUTHOR, now=NOW)


def fields_of(purpose: Purpose | None, market: str, tests: tuple[SpecTest, ...]) -> list[str]:
    violations = Violations()
    domain.check_content("TWX-101", purpose, market, "title", tests, violations)
    return [violation.field for violation in violations.items]


def test_alert_limits_lie_inside_the_acceptance_range() -> None:
    inside = Range(Bound(Decimal("3.8")), Bound(Decimal("4.2")))
    assert fields_of(Purpose.RELEASE, "", (dar(inside),)) == []
    wider = Range(Bound(Decimal("3.4")), Bound(Decimal("4.6")))
    assert fields_of(Purpose.RELEASE, "", (dar(wider),)) == [
        "specification.tests[0].alert.high", "specification.tests[0].alert.low"]


def test_only_a_market_specification_names_its_market() -> None:
    assert fields_of(Purpose.MARKET, "EU", (dar(),)) == []
    assert fields_of(Purpose.MARKET, "", (dar(),)) == ["specification.market"]
    assert fields_of(Purpose.RELEASE, "EU", (dar(),)) == ["specification.market"]
    assert fields_of(None, "", ()) == ["specification.purpose", "specification.tests"]


def test_draft_approved_effective_superseded_each_only_from_the_state_before() -> None:
    spec = draft()
    with pytest.raises(FailedPrecondition) as refused:
        domain.make_effective(
            spec, signature=signed("syracuse.qa", SignatureMeaning.MADE_EFFECTIVE), now=NOW)
    assert refused.value.reason == "SPECIFICATION_STATE"
    approved = domain.approve(spec, signature=signed("syracuse.qa", SignatureMeaning.APPROVED),
                              now=NOW)
    effective = domain.make_effective(
        approved, signature=signed("syracuse.qa", SignatureMeaning.MADE_EFFECTIVE), now=NOW)
    assert [s.meaning for s in effective.signatures] == [SignatureMeaning.APPROVED,
                                                         SignatureMeaning.MADE_EFFECTIVE]
    assert domain.supersede(effective, now=NOW).state is State.SUPERSEDED
    for state in (State.APPROVED, State.EFFECTIVE, State.SUPERSEDED):
        with pytest.raises(FailedPrecondition, match="only a draft version can be changed"):
            domain.update(replace(spec, state=state), title="x", tests=(dar(),), now=NOW)
    assert effective.revision == spec.revision + 2


def test_the_author_never_approves_and_a_second_draft_waits_for_the_first() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        domain.approve(draft(), signature=signed(AUTHOR.username, SignatureMeaning.APPROVED),
                       now=NOW)
    assert refused.value.reason == "AUTHOR_CANNOT_APPROVE"
    with pytest.raises(FailedPrecondition) as refused:
        domain.new_version(draft(), author=AUTHOR, now=NOW)
    assert refused.value.reason == "DRAFT_EXISTS"
    approved = domain.approve(draft(), signature=signed("syracuse.qa", SignatureMeaning.APPROVED),
                              now=NOW)
    second = domain.new_version(approved, author=AUTHOR, now=NOW)
    assert (second.version, second.state, second.signatures, second.tests) == (
        2, State.DRAFT, (), approved.tests)
