"""An OOS investigation, after FDA's guidance on investigating OOS results (2006, rev. 2022):
phase I in the laboratory, phase II full-scale, and whether the original result stands. Pure.

Every decision returns the investigation after it, its signature appended; nothing recorded
is ever removed. The handlers check who signs, against the roles named here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.common.domain import bounds, etags
from services.common.domain.errors import FailedPrecondition, Violations
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureRecord
from services.release_testing.investigations.names import investigation_name

# Who signs each step: the laboratory concludes its own investigation; QA owns phase II.
PHASE_ONE_ROLES = (Role.QC_ANALYST, Role.QA)
PHASE_TWO_ROLES = (Role.QA,)

MAX_CAUSES = 10
MIN_REPLICATES = 1
MAX_REPLICATES = 12


class InvestigationState(StrEnum):
    PHASE_ONE = "phase_one"
    RETEST_ALLOWED = "retest_allowed"
    PHASE_TWO = "phase_two"
    PLAN_APPROVED = "plan_approved"
    CLOSED_INVALIDATED = "closed_invalidated"
    CLOSED_CONFIRMED = "closed_confirmed"


CLOSED = (InvestigationState.CLOSED_INVALIDATED, InvestigationState.CLOSED_CONFIRMED)


class CauseCategory(StrEnum):
    INSTRUMENT = "instrument"
    ANALYST_ERROR = "analyst_error"
    CALCULATION = "calculation"
    SAMPLE_PREPARATION = "sample_preparation"
    REAGENT_OR_STANDARD = "reagent_or_standard"
    METHOD_EXECUTION = "method_execution"
    MANUFACTURING = "manufacturing"
    OTHER = "other"
    # A statistical outlier test: evidence for a cause, never a cause on its own.
    OUTLIER_TEST = "outlier_test"


class PlanKind(StrEnum):
    RETEST = "retest"  # the same sample again
    RESAMPLE = "resample"  # a new sample of the batch


@dataclass(frozen=True)
class Cause:
    category: CauseCategory | None  # None: not given (the proto's UNSPECIFIED); refused
    description: str


@dataclass(frozen=True)
class PhaseOne:
    causes: tuple[Cause, ...]
    assignable_cause_found: bool
    summary: str
    concluded_at: datetime


@dataclass(frozen=True)
class PhaseTwo:
    """Phase II as far as it went: the review first, then the plan, then the conclusion."""

    manufacturing_review: str
    plan: PlanKind | None = None
    replicates: int | None = None
    oos_confirmed: bool | None = None
    causes: tuple[Cause, ...] = ()
    conclusion: str | None = None
    concluded_at: datetime | None = None


@dataclass(frozen=True)
class Investigation:
    investigation_id: str
    sample_id: str
    result_name: str  # "samples/{id}/results/{n}": the OOS result
    batch_id: str
    home_site: str
    state: InvestigationState
    phase_one: PhaseOne | None
    phase_two: PhaseTwo | None
    follow_up_results: tuple[str, ...]  # retests and resamples entered under it, in order
    signatures: tuple[SignatureRecord, ...]
    created_at: datetime
    updated_at: datetime
    revision: int

    @property
    def name(self) -> str:
        return investigation_name(self.investigation_id)

    @property
    def etag(self) -> str:
        return str(self.revision)

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED

    @property
    def retest_permitted(self) -> bool:
        """Whether a retest or resample result may be entered under it now: the one retest
        after a phase I invalidation, or the plan's results until phase II concludes."""
        return self.state in (InvestigationState.RETEST_ALLOWED,
                              InvestigationState.PLAN_APPROVED)

    @property
    def blocks_release(self) -> bool:
        return self.is_open or self.state is InvestigationState.CLOSED_CONFIRMED


def open_investigation(
    *, investigation_id: str, sample_id: str, result_name: str, batch_id: str,
    home_site: str, now: datetime,
) -> Investigation:
    """A new investigation of the OOS result ``result_name``, in phase I."""
    return Investigation(
        investigation_id=investigation_id, sample_id=sample_id, result_name=result_name,
        batch_id=batch_id, home_site=home_site, state=InvestigationState.PHASE_ONE,
        phase_one=None, phase_two=None, follow_up_results=(), signatures=(), created_at=now,
        updated_at=now, revision=1,
    )


def check_etag(investigation: Investigation, etag: str) -> None:
    etags.check_etag(investigation.name, investigation.etag, etag)


def conclude_phase_one(
    investigation: Investigation, *, causes: Sequence[Cause], summary: str,
    signature: SignatureRecord, now: datetime,
) -> Investigation:
    """The laboratory investigation's conclusion: an assignable laboratory cause invalidates
    the result and allows its retest; none found opens phase II."""
    _require_state(investigation, "concluding phase I", InvestigationState.PHASE_ONE)
    violations = Violations()
    _check_causes(causes, violations, laboratory=True)
    bounds.text("summary", summary, bounds.TEXT_LEN, violations, required=True)
    violations.raise_if_any()
    _refuse_outlier_test_alone(investigation, causes)
    found = bool(causes)
    state = InvestigationState.RETEST_ALLOWED if found else InvestigationState.PHASE_TWO
    return _changed(replace(
        investigation, phase_one=PhaseOne(tuple(causes), found, summary, now), state=state,
    ), signature, now)


def record_follow_up(
    investigation: Investigation, *, result_name: str, now: datetime
) -> Investigation:
    """A retest or resample result entered under the investigation (it carries its own
    signatures). The retest after a phase I invalidation closes the investigation."""
    if not investigation.retest_permitted:
        raise FailedPrecondition(
            "RETEST_NOT_ALLOWED",
            f"{investigation.name} is in {investigation.state.value}: a retest or resample "
            f"is entered only after phase I found an assignable laboratory cause "
            f"({InvestigationState.RETEST_ALLOWED.value}) or under an approved phase II plan "
            f"({InvestigationState.PLAN_APPROVED.value})",
            name=investigation.name, state=investigation.state.value,
        )
    violations = Violations()
    if bounds.text("result_name", result_name, bounds.NAME_LEN, violations, required=True):
        if result_name == investigation.result_name:
            violations.add("result_name", "is the result under investigation, not a retest")
        elif result_name in investigation.follow_up_results:
            violations.add("result_name", f"is recorded under {investigation.name} already")
    violations.raise_if_any()
    closes = investigation.state is InvestigationState.RETEST_ALLOWED
    return _changed(replace(
        investigation, follow_up_results=(*investigation.follow_up_results, result_name),
        state=InvestigationState.CLOSED_INVALIDATED if closes else investigation.state,
    ), None, now)


# --- phase II ------------------------------------------------------------------------------

def record_manufacturing_review(
    investigation: Investigation, *, review: str, signature: SignatureRecord, now: datetime
) -> Investigation:
    """Phase II's review of the batch's manufacturing, once, before any test plan."""
    _require_state(
        investigation, "recording the manufacturing review", InvestigationState.PHASE_TWO
    )
    if investigation.phase_two is not None:
        raise FailedPrecondition(
            "INVESTIGATION_STATE",
            f"the manufacturing review of {investigation.name} is recorded already; it is "
            f"recorded once", name=investigation.name, state=investigation.state.value,
        )
    violations = Violations()
    bounds.text("review", review, bounds.TEXT_LEN, violations, required=True)
    violations.raise_if_any()
    return _changed(
        replace(investigation, phase_two=PhaseTwo(manufacturing_review=review)), signature, now
    )


def approve_test_plan(
    investigation: Investigation, *, plan: PlanKind | None, replicates: int,
    signature: SignatureRecord, now: datetime,
) -> Investigation:
    """QA's plan of phase II: retest or resample, and how many replicates."""
    _require_state(investigation, "approving a test plan", InvestigationState.PHASE_TWO)
    if investigation.phase_two is None:
        raise FailedPrecondition(
            "INVESTIGATION_STATE",
            f"the manufacturing review comes first: record it before approving a test plan "
            f"for {investigation.name}", name=investigation.name,
            state=investigation.state.value,
        )
    violations = Violations()
    if plan is None:
        violations.add("plan", "is required (retest or resample)")
    if not MIN_REPLICATES <= replicates <= MAX_REPLICATES:
        violations.add("replicates", f"must be within {MIN_REPLICATES} .. {MAX_REPLICATES}")
    violations.raise_if_any()
    return _changed(replace(
        investigation, state=InvestigationState.PLAN_APPROVED,
        phase_two=replace(investigation.phase_two, plan=plan, replicates=replicates),
    ), signature, now)


def conclude_phase_two(
    investigation: Investigation, *, oos_confirmed: bool, causes: Sequence[Cause],
    conclusion: str, signature: SignatureRecord, now: datetime,
) -> Investigation:
    """Phase II's conclusion on the plan's results: the OOS confirmed (the batch cannot be
    released), or the original result invalidated by an assignable cause."""
    _require_state(investigation, "concluding phase II", InvestigationState.PLAN_APPROVED)
    phase_two = investigation.phase_two
    assert phase_two is not None  # PLAN_APPROVED is reached only through the review
    if not investigation.follow_up_results:
        plan = "retest" if phase_two.plan is None else phase_two.plan.value
        raise FailedPrecondition(
            "PLAN_RESULTS_MISSING",
            f"phase II of {investigation.name} concludes on its plan's results: enter a "
            f"{plan} result under it first", name=investigation.name,
        )
    violations = Violations()
    _check_causes(causes, violations, laboratory=False)
    if not oos_confirmed and not causes:
        violations.add("causes", "an invalidated result needs its assignable cause")
    bounds.text("conclusion", conclusion, bounds.TEXT_LEN, violations, required=True)
    violations.raise_if_any()
    if not oos_confirmed:
        _refuse_outlier_test_alone(investigation, causes)
        if all(cause.category is CauseCategory.MANUFACTURING for cause in causes):
            raise FailedPrecondition(
                "MANUFACTURING_CAUSE_CONFIRMS",
                f"a manufacturing cause explains the OOS of {investigation.name}: the result is "
                "valid and the OOS confirmed, not invalidated", name=investigation.name,
            )
    state = (InvestigationState.CLOSED_CONFIRMED if oos_confirmed
             else InvestigationState.CLOSED_INVALIDATED)
    return _changed(replace(
        investigation, state=state, phase_two=replace(
            phase_two, oos_confirmed=oos_confirmed, causes=tuple(causes),
            conclusion=conclusion, concluded_at=now,
        ),
    ), signature, now)


# --- the original result -------------------------------------------------------------------

def invalidates_original(investigation: Investigation) -> bool:
    """Whether the original result is to be marked invalidated: phase I found an assignable
    cause, or phase II concluded the OOS was not confirmed."""
    phase_one, phase_two = investigation.phase_one, investigation.phase_two
    return (phase_one is not None and phase_one.assignable_cause_found) or (
        phase_two is not None and phase_two.oos_confirmed is False
    )


def invalidation_reason(investigation: Investigation) -> str:
    """``investigations/{id}: <category>: <description>; ...``, the causes that invalidated
    the original result; '' while it stands."""
    if not invalidates_original(investigation):
        return ""
    phase_one = investigation.phase_one
    if phase_one is not None and phase_one.assignable_cause_found:
        causes = phase_one.causes
    else:
        assert investigation.phase_two is not None
        causes = investigation.phase_two.causes
    listed = "; ".join(
        f"{_category_text(cause.category)}: {cause.description}" for cause in causes
    )
    return f"{investigation.name}: {listed}"


# --- rules shared by both phases -----------------------------------------------------------

def _check_causes(causes: Sequence[Cause], violations: Violations, *, laboratory: bool) -> None:
    if not bounds.list_len("causes", causes, MAX_CAUSES, violations):
        return
    for index, cause in enumerate(causes):
        path = f"causes[{index}]"
        if cause.category is None:
            violations.add(f"{path}.category", "is required")
        elif laboratory and cause.category is CauseCategory.MANUFACTURING:
            violations.add(
                f"{path}.category", "manufacturing is not a laboratory cause: phase I "
                "investigates the laboratory; phase II reviews manufacturing",
            )
        bounds.text(f"{path}.description", cause.description, bounds.COMMENT_LEN, violations,
                    required=True)


def _refuse_outlier_test_alone(investigation: Investigation, causes: Sequence[Cause]) -> None:
    # FDA's guidance: an outlier test may support an assignable cause, never replace one.
    if causes and all(cause.category is CauseCategory.OUTLIER_TEST for cause in causes):
        raise FailedPrecondition(
            "OUTLIER_TEST_ALONE",
            f"an outlier test alone never invalidates a result: name the assignable cause "
            f"of the OOS of {investigation.name}", name=investigation.name,
        )


def _require_state(
    investigation: Investigation, action: str, *allowed: InvestigationState
) -> None:
    if investigation.state not in allowed:
        listed = " or ".join(state.value for state in allowed)
        raise FailedPrecondition(
            "INVESTIGATION_STATE",
            f"{action} is allowed in {listed} only; {investigation.name} is in "
            f"{investigation.state.value}", name=investigation.name,
            state=investigation.state.value, allowed=",".join(state.value for state in allowed),
        )


def _changed(
    after: Investigation, signature: SignatureRecord | None, now: datetime
) -> Investigation:
    """``after`` (the investigation with its change) as a new revision, signed by
    ``signature`` when the step is signed."""
    signatures = after.signatures if signature is None else (*after.signatures, signature)
    return replace(after, updated_at=now, revision=after.revision + 1, signatures=signatures)


def _category_text(category: CauseCategory | None) -> str:
    return "unspecified" if category is None else category.value.replace("_", " ")
