"""A specification version: its tests and criteria, drafted, approved, made effective. Pure.

An approved version never changes; a change is a new version. Approval is QA's, never the
author's; making a version effective supersedes the one effective before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from services.common.domain import bounds, etags, units
from services.common.domain.errors import FailedPrecondition, Violations
from services.common.domain.roles import Principal, Role
from services.common.domain.signatures import SignatureRecord
from services.release_testing.specifications.criteria import Criterion, Range, Rule
from services.release_testing.specifications.names import version_name

AUTHOR_ROLES = (Role.QC_ANALYST, Role.QA, Role.PROCESS_ENGINEER)
APPROVER_ROLES = (Role.QA,)
MAX_TESTS = 100
MAX_DECIMALS = 6
MAX_REPLICATES = 12
TEST_ID = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}", re.ASCII)
MARKET = re.compile(r"[A-Z]{2,8}", re.ASCII)


class State(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    EFFECTIVE = "effective"
    SUPERSEDED = "superseded"


class Purpose(StrEnum):
    RELEASE = "release"
    STABILITY = "stability"
    MARKET = "market"


@dataclass(frozen=True)
class SpecTest:
    test_id: str
    attribute: str
    method_id: str
    unit: str  # UCUM; "" for a qualitative test
    decimals: int
    replicates: int
    average_replicates: bool
    criterion: Criterion
    alert: Range | None = None

    @property
    def rule(self) -> Rule:
        return Rule(self.decimals, self.criterion, self.average_replicates, self.alert)

    @property
    def key(self) -> tuple[str, str]:
        """What a sample's assignment groups by: the attribute and the method."""
        return self.attribute, self.method_id


@dataclass(frozen=True)
class Specification:
    spec_id: str
    version: int
    product: str
    purpose: Purpose
    market: str
    title: str
    tests: tuple[SpecTest, ...]
    state: State
    home_site: str
    author: str
    signatures: tuple[SignatureRecord, ...]
    create_time: datetime
    update_time: datetime
    revision: int = 1

    @property
    def name(self) -> str:
        return version_name(self.spec_id, self.version)

    @property
    def etag(self) -> str:
        return str(self.revision)

    def test(self, test_id: str) -> SpecTest | None:
        return next((test for test in self.tests if test.test_id == test_id), None)


def check_content(
    product: str, purpose: Purpose | None, market: str, title: str,
    tests: tuple[SpecTest, ...], violations: Violations, prefix: str = "specification",
) -> None:
    """Every rule of a version's content; each broken one named by its field path."""
    bounds.text(f"{prefix}.product", product, bounds.NAME_LEN, violations, required=True)
    bounds.text(f"{prefix}.title", title, bounds.NAME_LEN, violations, required=True)
    if purpose is None:
        violations.add(f"{prefix}.purpose", "is required")
    elif purpose is Purpose.MARKET and not MARKET.fullmatch(market):
        violations.add(f"{prefix}.market", "a market specification names its market, "
                                           "2-8 capital letters (e.g. EU, KR)")
    elif purpose is not Purpose.MARKET and market:
        violations.add(f"{prefix}.market", "only a market specification names a market")
    if not tests:
        violations.add(f"{prefix}.tests", "a specification has at least one test")
    if len(tests) > MAX_TESTS:
        violations.add(f"{prefix}.tests", f"at most {MAX_TESTS} tests")
        return
    seen: set[str] = set()
    for index, test in enumerate(tests):
        _check_test(test, f"{prefix}.tests[{index}]", violations)
        if test.test_id in seen:
            violations.add(f"{prefix}.tests[{index}].test_id", f"{test.test_id} is used twice")
        seen.add(test.test_id)


def _check_test(test: SpecTest, at: str, violations: Violations) -> None:
    if not TEST_ID.fullmatch(test.test_id):
        violations.add(f"{at}.test_id", "must be 1-32 of A-Z 0-9 _ - (e.g. DAR, SEC-MONOMER)")
    bounds.text(f"{at}.attribute", test.attribute, bounds.NAME_LEN, violations, required=True)
    bounds.text(f"{at}.method_id", test.method_id, bounds.ID_LEN, violations, required=True)
    if not 0 <= test.decimals <= MAX_DECIMALS:
        violations.add(f"{at}.decimals", f"must be 0-{MAX_DECIMALS}")
    if not 1 <= test.replicates <= MAX_REPLICATES:
        violations.add(f"{at}.replicates", f"must be 1-{MAX_REPLICATES}")
    criterion = test.criterion
    if criterion.qualitative:
        bounds.text(f"{at}.qualitative", criterion.outcome or "", bounds.NAME_LEN, violations,
                    required=True)
        if test.unit:
            violations.add(f"{at}.unit", "a qualitative test has no unit")
        if test.alert is not None:
            violations.add(f"{at}.alert", "a qualitative test has no alert limits")
        return
    if not test.unit or len(test.unit) > 32 or not units.is_ucum(test.unit):
        violations.add(f"{at}.unit", "must be a UCUM code (e.g. %, mg/mL, [EU]/mL; 1 for none)")
    acceptable = criterion.range is None or _check_range(
        criterion.range, f"{at}.range", violations, required=True)
    if test.alert is not None and _check_range(test.alert, f"{at}.alert", violations) and \
            acceptable:
        _check_inside(test.alert, criterion.range or Range(), criterion.loq, f"{at}.alert",
                      violations)


def _check_range(limits: Range, at: str, violations: Violations, *,
                 required: bool = False) -> bool:
    if limits.low is None and limits.high is None:
        if required:
            violations.add(at, "a range needs a low or a high bound")
        return False
    if limits.low is not None and limits.high is not None and limits.low.value >= limits.high.value:
        violations.add(at, f"low {limits.low.value} must be below high {limits.high.value}")
        return False
    return True


def _check_inside(alert: Range, acceptance: Range, loq: Decimal | None, at: str,
                  violations: Violations) -> None:
    """Alert limits lie inside the acceptance range (a bound each side at most as wide)."""
    high = acceptance.high.value if acceptance.high is not None else loq
    low = acceptance.low.value if acceptance.low is not None else None
    if alert.high is not None and high is not None and alert.high.value > high:
        violations.add(f"{at}.high", f"{alert.high.value} is outside the acceptance limit {high}")
    if alert.low is not None and low is not None and alert.low.value < low:
        violations.add(f"{at}.low", f"{alert.low.value} is outside the acceptance limit {low}")


def create_specification(
    *, spec_id: str, site: str, product: str, purpose: Purpose, market: str, title: str,
    tests: tuple[SpecTest, ...], author: Principal, now: datetime,
) -> Specification:
    return Specification(
        spec_id=spec_id, version=1, product=product, purpose=purpose, market=market,
        title=title, tests=tests, state=State.DRAFT, home_site=site, author=author.username,
        signatures=(), create_time=now, update_time=now,
    )


def new_version(latest: Specification, *, author: Principal, now: datetime) -> Specification:
    """A draft copy of the newest version; one draft at a time."""
    if latest.state is State.DRAFT:
        raise FailedPrecondition(
            "DRAFT_EXISTS", f"{latest.name} is a draft: change it instead of adding a version",
            name=latest.name,
        )
    return replace(latest, version=latest.version + 1, state=State.DRAFT,
                   author=author.username, signatures=(), create_time=now, update_time=now,
                   revision=1)


def update(spec: Specification, *, title: str, tests: tuple[SpecTest, ...],
           now: datetime) -> Specification:
    _require(spec, State.DRAFT, "changed (a change to an approved version is a new version)")
    return _changed(spec, now, title=title, tests=tests)


def approve(spec: Specification, *, signature: SignatureRecord, now: datetime) -> Specification:
    _require(spec, State.DRAFT, "approved")
    if signature.signer == spec.author:
        raise FailedPrecondition(
            "AUTHOR_CANNOT_APPROVE", f"{signature.signer} wrote {spec.name} and cannot approve "
            "it: approval is another person's (QA)", name=spec.name,
        )
    return _changed(spec, now, state=State.APPROVED, signatures=(*spec.signatures, signature))


def make_effective(spec: Specification, *, signature: SignatureRecord,
                   now: datetime) -> Specification:
    _require(spec, State.APPROVED, "made effective")
    return _changed(spec, now, state=State.EFFECTIVE, signatures=(*spec.signatures, signature))


def supersede(spec: Specification, *, now: datetime) -> Specification:
    _require(spec, State.EFFECTIVE, "superseded")
    return _changed(spec, now, state=State.SUPERSEDED)


def check_etag(spec: Specification, etag: str) -> None:
    etags.check_etag(spec.name, spec.etag, etag)


def _require(spec: Specification, state: State, action: str) -> None:
    if spec.state is not state:
        raise FailedPrecondition(
            "SPECIFICATION_STATE", f"{spec.name} is {spec.state.value}: only a "
            f"{state.value} version can be {action}", name=spec.name, state=spec.state.value,
        )


def _changed(spec: Specification, now: datetime, **changes: object) -> Specification:
    return replace(spec, update_time=now, revision=spec.revision + 1, **changes)  # type: ignore[arg-type]
