"""A sample of a batch, its test assignments and its results, each judged against every
applicable specification at once. Pure.

A result is kept as entered and as its reportable value per specification. A second analyst
reviews it; an OOS investigation may invalidate it (kept, marked, with the reason). Nothing is
ever removed: a retest is a new result that names the one it retests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from services.common.domain import bounds, etags, spc
from services.common.domain.errors import FailedPrecondition, NotFound, Violations
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureRecord
from services.release_testing.samples.names import result_name, sample_name
from services.release_testing.specifications.criteria import (
    Entered,
    Flag,
    Judgement,
    Rule,
    Verdict,
    judge,
)
from services.release_testing.specifications.domain import Purpose, Specification, SpecTest

SAMPLER_ROLES = (Role.QC_ANALYST, Role.QA, Role.SUPERVISOR)
# Out of trend: the individuals chart of earlier batches' reviewed results of the product and
# attribute (every site's), its limits from the first TREND_BASELINE of them, then frozen; no
# judgement before TREND_MIN_HISTORY results. Nelson's eight rules.
TREND_BASELINE = 20
TREND_MIN_HISTORY = 8
ANALYST_ROLES = (Role.QC_ANALYST,)
MAX_RESULTS = 1_000


class ResultState(StrEnum):
    ENTERED = "entered"
    REVIEWED = "reviewed"
    INVALIDATED = "invalidated"


@dataclass(frozen=True)
class AppliedTest:
    """One specification's test an assignment is judged against, as it was at assignment."""

    specification: str  # "specifications/{spec_id}/versions/{version}"
    purpose: Purpose
    test: SpecTest

    @property
    def test_id(self) -> str:
        return self.test.test_id

    @property
    def rule(self) -> Rule:
        return self.test.rule

    @property
    def replicates(self) -> int:
        return self.test.replicates

    @property
    def criterion_text(self) -> str:
        return self.test.criterion.text(self.test.unit)


@dataclass(frozen=True)
class Verdicts:
    """A result's judgement against one applied test."""

    specification: str
    test_id: str
    judgement: Judgement
    trend_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    number: int
    assignment_id: str
    replicates: tuple[str, ...]  # as entered
    outcome: str
    below_loq: bool
    unit: str
    instrument_id: str
    state: ResultState
    verdicts: tuple[Verdicts, ...]
    entered_by: str
    signatures: tuple[SignatureRecord, ...]
    retest_of: int | None = None  # the number of the result it retests
    invalidation_reason: str = ""
    comment: str = ""

    @property
    def failed(self) -> bool:
        return any(v.judgement.verdict is Verdict.FAIL for v in self.verdicts)


@dataclass(frozen=True)
class Assignment:
    assignment_id: str  # "A1", "A2"...
    attribute: str
    method_id: str
    unit: str  # "" for a qualitative test
    applied: tuple[AppliedTest, ...]

    @property
    def qualitative(self) -> bool:
        return self.applied[0].rule.criterion.qualitative

    @property
    def replicates(self) -> int:
        return max(test.replicates for test in self.applied)

    @property
    def takes_below_loq(self) -> bool:
        return any(test.rule.criterion.loq is not None for test in self.applied)


@dataclass(frozen=True)
class Sample:
    sample_id: str
    batch_id: str
    product: str
    home_site: str
    description: str
    assignments: tuple[Assignment, ...]
    results: tuple[Result, ...]
    created_by: str
    create_time: datetime
    update_time: datetime
    resample_of: str = ""
    revision: int = 1

    @property
    def name(self) -> str:
        return sample_name(self.sample_id)

    @property
    def etag(self) -> str:
        return str(self.revision)

    def assignment(self, assignment_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.assignment_id == assignment_id), None)

    def result(self, number: int) -> Result:
        if not 1 <= number <= len(self.results):
            raise NotFound("RESULT_NOT_FOUND", f"{self.name} has no result {number}",
                           result=result_name(self.sample_id, number))
        return self.results[number - 1]

    def current(self, assignment_id: str) -> Result | None:
        """The newest result of the assignment that is not invalidated."""
        valid = [r for r in self.results
                 if r.assignment_id == assignment_id and r.state is not ResultState.INVALIDATED]
        return valid[-1] if valid else None

    @property
    def complete(self) -> bool:
        return all(
            (current := self.current(a.assignment_id)) is not None
            and current.state is ResultState.REVIEWED for a in self.assignments
        )


class SampleVerdict(StrEnum):
    PENDING = "pending"
    CONFORMS = "conforms"
    DOES_NOT_CONFORM = "does_not_conform"


def verdicts(sample: Sample) -> list[tuple[str, Purpose, SampleVerdict]]:
    """The sample's verdict per specification (and so per purpose), in assignment order:
    any current result outside that specification → does not conform; every test with a
    current reviewed result inside it → conforms; otherwise pending."""
    found: dict[str, tuple[Purpose, list[SampleVerdict]]] = {}
    for assignment in sample.assignments:
        current = sample.current(assignment.assignment_id)
        for applied in assignment.applied:
            verdict = SampleVerdict.PENDING
            if current is not None:
                judged = next(v for v in current.verdicts if v.specification ==
                              applied.specification and v.test_id == applied.test_id)
                if judged.judgement.verdict is Verdict.FAIL:
                    verdict = SampleVerdict.DOES_NOT_CONFORM
                elif current.state is ResultState.REVIEWED:
                    verdict = SampleVerdict.CONFORMS
            found.setdefault(applied.specification, (applied.purpose, []))[1].append(verdict)
    return [
        (name, purpose, SampleVerdict.DOES_NOT_CONFORM if SampleVerdict.DOES_NOT_CONFORM in
         tests else SampleVerdict.CONFORMS if all(t is SampleVerdict.CONFORMS for t in tests)
         else SampleVerdict.PENDING)
        for name, (purpose, tests) in found.items()
    ]


def assignments_from(specifications: Sequence[Specification]) -> tuple[Assignment, ...]:
    """One assignment per (attribute, method) of the specifications' tests, in their order;
    FailedPrecondition when two specifications test one attribute by one method differently
    (another unit, or one qualitative and one numeric)."""
    grouped: dict[tuple[str, str], list[tuple[Specification, int]]] = {}
    for spec in specifications:
        for index, test in enumerate(spec.tests):
            grouped.setdefault(test.key, []).append((spec, index))
    assignments = []
    for number, ((attribute, method_id), tests) in enumerate(grouped.items(), start=1):
        applied = []
        units = set()
        kinds = set()
        for spec, index in tests:
            test = spec.tests[index]
            units.add(test.unit)
            kinds.add(test.criterion.qualitative)
            applied.append(AppliedTest(spec.name, spec.purpose, test))
        if len(units) > 1 or len(kinds) > 1:
            raise FailedPrecondition(
                "SPECIFICATIONS_DISAGREE",
                f"the effective specifications test {attribute} by {method_id} in different "
                f"units or kinds ({', '.join(sorted(units)) or 'qualitative'}): align them",
                attribute=attribute, methodId=method_id,
            )
        assignments.append(Assignment(f"A{number}", attribute, method_id, units.pop(),
                                      tuple(applied)))
    return tuple(assignments)


def create_sample(
    *, sample_id: str, site: str, batch_id: str, product: str, description: str,
    specifications: Sequence[Specification], created_by: str, now: datetime,
    resample_of: str = "",
) -> Sample:
    if not specifications:
        raise FailedPrecondition(
            "NO_EFFECTIVE_SPECIFICATION", f"no specification of {product} is effective: a "
            "sample is tested against the product's effective specifications",
            product=product,
        )
    violations = Violations()
    bounds.text("description", description, bounds.NAME_LEN, violations)
    violations.raise_if_any()
    return Sample(
        sample_id=sample_id, batch_id=batch_id, product=product, home_site=site,
        description=description, assignments=assignments_from(specifications), results=(),
        created_by=created_by, create_time=now, update_time=now, resample_of=resample_of,
    )


@dataclass(frozen=True)
class Entry:
    """A result as a request carries it; replicates already parsed (``values``)."""

    assignment_id: str
    replicates: tuple[str, ...]
    values: tuple[Decimal, ...]
    outcome: str
    below_loq: bool
    unit: str
    instrument_id: str
    comment: str
    retest_of: int | None = None


def check_entry(sample: Sample, entry: Entry) -> Assignment:
    """The assignment the entry is for, once every field fits it; each misfit named."""
    assignment = sample.assignment(entry.assignment_id)
    violations = Violations()
    if assignment is None:
        known = ", ".join(a.assignment_id for a in sample.assignments)
        violations.add("assignment_id", f"{sample.name} has no assignment "
                                        f"{entry.assignment_id[:16]!r}; it has {known}")
        violations.raise_if_any()
    assert assignment is not None
    if entry.unit != assignment.unit:
        violations.add("unit", f"{entry.unit[:32]!r} is not the unit of {assignment.attribute}, "
                               f"{assignment.unit or 'none (qualitative)'}; results are never "
                               "converted")
    if assignment.qualitative:
        bounds.text("outcome", entry.outcome, bounds.NAME_LEN, violations, required=True)
        if entry.replicates or entry.below_loq:
            violations.add("replicates", "a qualitative test takes an outcome, not values")
    elif entry.below_loq:
        if not assignment.takes_below_loq:
            violations.add("below_loq", f"{assignment.attribute} has no LOQ criterion")
        if entry.replicates:
            violations.add("replicates", "a result below the LOQ has no values")
    else:
        if len(entry.replicates) != assignment.replicates:
            violations.add("replicates", f"{assignment.attribute} takes {assignment.replicates} "
                                         f"replicate value(s), not {len(entry.replicates)}")
        if entry.outcome:
            violations.add("outcome", "a numeric test takes values, not an outcome")
    if not assignment.qualitative:
        bounds.text("instrument_id", entry.instrument_id, bounds.ID_LEN, violations,
                    required=True)
    bounds.text("comment", entry.comment, bounds.COMMENT_LEN, violations)
    violations.raise_if_any()
    return assignment


def trend_rules(history: Sequence[Decimal], value: Decimal) -> tuple[str, ...]:
    """The SPC rules ``value`` breaks after the earlier results ``history`` (in order)."""
    if len(history) < TREND_MIN_HISTORY:
        return ()
    try:
        limits = spc.baseline_limits(history[:TREND_BASELINE])
    except ValueError:  # a history without variation has no sigma to judge against
        return ()
    points = spc.evaluate([*history, value], limits, spc.RuleSet(spc.NELSON))
    return tuple(rule.value for rule in points[-1].broken)


def _with_trend(verdicts: Verdicts, rules: tuple[str, ...]) -> Verdicts:
    judgement = verdicts.judgement
    if not rules or judgement.verdict is not Verdict.PASS:
        return verdicts
    flagged = replace(judgement, flags=(*judgement.flags, Flag.OUT_OF_TREND))
    return replace(verdicts, judgement=flagged, trend_rules=rules)


def enter_result(
    sample: Sample, entry: Entry, *, signature: SignatureRecord, retest_permitted: bool,
    now: datetime, history: Sequence[Decimal] = (),
) -> tuple[Sample, Result]:
    """The sample with the result judged and added; a second result of an assignment only as
    a retest that an investigation permits (``retest_permitted``). ``history``: the earlier
    reviewed results of the product's attribute, for out of trend (flagged, never failed)."""
    assignment = check_entry(sample, entry)
    if len(sample.results) >= MAX_RESULTS:
        raise FailedPrecondition("TOO_MANY_RESULTS", f"{sample.name} holds {MAX_RESULTS} results")
    current = sample.current(assignment.assignment_id)
    if entry.retest_of is None and current is not None:
        raise FailedPrecondition(
            "RESULT_EXISTS", f"{assignment.attribute} of {sample.name} has result "
            f"{current.number}: another result is a retest, which an OOS investigation allows",
            result=result_name(sample.sample_id, current.number),
        )
    if entry.retest_of is not None:
        original = sample.result(entry.retest_of)
        if original.assignment_id != assignment.assignment_id:
            raise FailedPrecondition(
                "RETEST_OF_ANOTHER_TEST", f"result {original.number} is of another test "
                f"({original.assignment_id}), not {assignment.assignment_id}")
        if not retest_permitted:
            raise FailedPrecondition(
                "RETEST_NOT_ALLOWED", f"no investigation of result {original.number} of "
                f"{sample.name} allows a retest now",
                result=result_name(sample.sample_id, original.number))
    entered = Entered(entry.values, entry.outcome, entry.below_loq)
    verdicts = tuple(
        Verdicts(test.specification, test.test_id, _judged(test, entered))
        for test in assignment.applied
    )
    reportable = verdicts[0].judgement.reportable if verdicts else None
    if reportable is not None:
        rules = trend_rules(history, reportable)
        verdicts = tuple(_with_trend(v, rules) for v in verdicts)
    result = Result(
        number=len(sample.results) + 1, assignment_id=assignment.assignment_id,
        replicates=entry.replicates, outcome=entry.outcome, below_loq=entry.below_loq,
        unit=entry.unit, instrument_id=entry.instrument_id, state=ResultState.ENTERED,
        verdicts=verdicts, entered_by=signature.signer, signatures=(signature,),
        retest_of=entry.retest_of, comment=entry.comment,
    )
    return _changed(sample, now, results=(*sample.results, result)), result


def _judged(test: AppliedTest, entered: Entered) -> Judgement:
    # A test that takes fewer replicates than the assignment judges the first ones.
    values = entered.replicates[:test.replicates] if test.rule.average_replicates else \
        entered.replicates
    return judge(test.rule, replace(entered, replicates=values))


def review_result(sample: Sample, number: int, *, signature: SignatureRecord,
                  now: datetime) -> tuple[Sample, Result]:
    result = sample.result(number)
    if result.state is not ResultState.ENTERED:
        raise FailedPrecondition(
            "RESULT_STATE", f"result {number} of {sample.name} is {result.state.value}: only an "
            "entered result is reviewed", state=result.state.value)
    if signature.signer == result.entered_by:
        raise FailedPrecondition(
            "SELF_REVIEW", f"{signature.signer} entered result {number} of {sample.name}: a "
            "second analyst reviews it", result=result_name(sample.sample_id, number))
    reviewed = replace(result, state=ResultState.REVIEWED,
                       signatures=(*result.signatures, signature))
    return _with_result(sample, reviewed, now), reviewed


def invalidate_result(sample: Sample, number: int, *, reason: str,
                      now: datetime) -> tuple[Sample, Result]:
    """Marks the result invalid with the investigation's reason; it stays readable."""
    result = sample.result(number)
    if result.state is ResultState.INVALIDATED:
        return sample, result
    invalid = replace(result, state=ResultState.INVALIDATED, invalidation_reason=reason)
    return _with_result(sample, invalid, now), invalid


def check_etag(sample: Sample, etag: str) -> None:
    etags.check_etag(sample.name, sample.etag, etag)


def _with_result(sample: Sample, result: Result, now: datetime) -> Sample:
    results = list(sample.results)
    results[result.number - 1] = result
    return _changed(sample, now, results=tuple(results))


def _changed(sample: Sample, now: datetime, **changes: object) -> Sample:
    return replace(sample, update_time=now, revision=sample.revision + 1, **changes)  # type: ignore[arg-type]
