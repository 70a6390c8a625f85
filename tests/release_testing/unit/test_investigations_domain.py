"""An OOS investigation's decisions (services/release_testing/investigations/domain.py), pure:
phase I with and without an assignable cause, phase II's review, plan and conclusion, each
step only in its state, and an outlier test never the only cause."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from services.common.domain.errors import Aborted, FailedPrecondition, InvalidArgument
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from services.release_testing.investigations import domain
from services.release_testing.investigations.domain import (
    Cause,
    CauseCategory,
    Investigation,
    InvestigationState,
    PlanKind,
)
from services.release_testing.investigations.names import (
    investigation_id,
    investigation_id_of,
    investigation_name,
)

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
ANALYST = SignatureRecord("ana", "Ana Lyst", SignatureMeaning.AUTHORED, T0, role="qc_analyst")
QA = SignatureRecord("qa1", "Quinn Assure", SignatureMeaning.APPROVED, T0, role="qa")
ORIGINAL = "samples/SYR-S-2026-00001/results/1"
RETEST = "samples/SYR-S-2026-00001/results/2"
INSTRUMENT = Cause(CauseCategory.INSTRUMENT, "HPLC pump pressure fault during the injection")
OUTLIER = Cause(CauseCategory.OUTLIER_TEST, "Grubbs: replicate 3 is an outlier (p < 0.05)")
MANUFACTURING = Cause(CauseCategory.MANUFACTURING, "quench hold exceeded by 40 min")

State = InvestigationState


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def opened() -> Investigation:
    return domain.open_investigation(
        investigation_id="SYR-OOS-2026-00001", sample_id="SYR-S-2026-00001",
        result_name=ORIGINAL, batch_id="SYR-B-2026-00001", home_site="syracuse", now=T0,
    )


def concluded_one(investigation: Investigation, *causes: Cause) -> Investigation:
    return domain.conclude_phase_one(
        investigation, causes=causes, summary="Lab investigation per SOP-QC-012",
        signature=ANALYST, now=at(10),
    )


def retest_allowed() -> Investigation:
    return concluded_one(opened(), INSTRUMENT)


def phase_two() -> Investigation:
    return concluded_one(opened())


def reviewed(investigation: Investigation | None = None) -> Investigation:
    return domain.record_manufacturing_review(
        investigation or phase_two(), review="Batch record reviewed: no deviation",
        signature=QA, now=at(20),
    )


def plan_approved(investigation: Investigation | None = None) -> Investigation:
    return domain.approve_test_plan(
        investigation or reviewed(), plan=PlanKind.RETEST, replicates=3, signature=QA,
        now=at(30),
    )


def followed_up(investigation: Investigation, result: str = RETEST) -> Investigation:
    return domain.record_follow_up(investigation, result_name=result, now=at(40))


def plan_with_result() -> Investigation:
    return followed_up(plan_approved())


def concluded_two(
    investigation: Investigation, *causes: Cause, confirmed: bool
) -> Investigation:
    return domain.conclude_phase_two(
        investigation, oos_confirmed=confirmed, causes=causes,
        conclusion="Retest results reviewed by QA", signature=QA, now=at(50),
    )


def closed_invalidated() -> Investigation:
    return followed_up(retest_allowed())


def closed_confirmed() -> Investigation:
    return concluded_two(plan_with_result(), confirmed=True)


def fields(error: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [violation.field for violation in error.value.violations]


# --- names ---------------------------------------------------------------------------------

def test_an_investigation_is_named_by_site_year_and_number() -> None:
    assert investigation_id("SYR", 2026, 1) == "SYR-OOS-2026-00001"
    assert investigation_name("SYR-OOS-2026-00001") == "investigations/SYR-OOS-2026-00001"
    assert investigation_id_of("investigations/SDO-OOS-2027-00042") == "SDO-OOS-2027-00042"
    for bad in ("SYR-OOS-2026-00001", "investigations/SYR-OOS-26-1", "investigations/",
                "samples/SYR-OOS-2026-00001", "investigations/syr-OOS-2026-00001"):
        with pytest.raises(InvalidArgument) as refused:
            investigation_id_of(bad, field="investigation")
        assert fields(refused) == ["investigation"]


# --- the three paths -----------------------------------------------------------------------

def test_a_laboratory_cause_invalidates_the_result_and_its_retest_closes_the_investigation(
) -> None:
    investigation = opened()
    assert investigation.state is State.PHASE_ONE and investigation.revision == 1
    assert investigation.is_open and investigation.blocks_release
    assert not investigation.retest_permitted and not domain.invalidates_original(investigation)

    invalidated = retest_allowed()
    assert invalidated.state is State.RETEST_ALLOWED and invalidated.retest_permitted
    assert invalidated.phase_one == domain.PhaseOne(
        (INSTRUMENT,), True, "Lab investigation per SOP-QC-012", at(10)
    )
    assert invalidated.signatures == (ANALYST,) and invalidated.updated_at == at(10)
    assert domain.invalidates_original(invalidated) and invalidated.blocks_release
    assert domain.invalidation_reason(invalidated) == (
        "investigations/SYR-OOS-2026-00001: instrument: HPLC pump pressure fault during the "
        "injection"
    )

    closed = followed_up(invalidated)
    assert closed.state is State.CLOSED_INVALIDATED and closed.follow_up_results == (RETEST,)
    assert not closed.is_open and not closed.blocks_release and not closed.retest_permitted
    assert closed.signatures == (ANALYST,)  # the retest result carries its own signatures
    assert domain.invalidates_original(closed) and closed.phase_two is None


def test_no_laboratory_cause_leads_through_phase_two_to_a_confirmed_oos() -> None:
    investigation = phase_two()
    assert investigation.state is State.PHASE_TWO and investigation.phase_two is None
    assert investigation.phase_one is not None
    assert not investigation.phase_one.assignable_cause_found
    assert not domain.invalidates_original(investigation)

    investigation = plan_with_result()
    assert investigation.state is State.PLAN_APPROVED
    assert investigation.phase_two == domain.PhaseTwo(
        "Batch record reviewed: no deviation", PlanKind.RETEST, 3
    )
    investigation = followed_up(investigation, "samples/SYR-S-2026-00001/results/3")
    assert investigation.state is State.PLAN_APPROVED and len(investigation.follow_up_results) == 2

    confirmed = concluded_two(investigation, MANUFACTURING, confirmed=True)
    assert confirmed.state is State.CLOSED_CONFIRMED
    assert not confirmed.is_open and confirmed.blocks_release
    assert confirmed.phase_two is not None and confirmed.phase_two.oos_confirmed is True
    assert confirmed.phase_two.causes == (MANUFACTURING,)
    assert confirmed.phase_two.concluded_at == at(50)
    assert not domain.invalidates_original(confirmed)
    assert domain.invalidation_reason(confirmed) == ""
    assert confirmed.signatures == (ANALYST, QA, QA, QA)


def test_phase_two_invalidates_the_original_result_with_its_cause() -> None:
    analyst_error = Cause(CauseCategory.ANALYST_ERROR, "wrong dilution, found on re-review")
    invalidated = concluded_two(plan_with_result(), analyst_error, OUTLIER, confirmed=False)
    assert invalidated.state is State.CLOSED_INVALIDATED and not invalidated.blocks_release
    assert invalidated.phase_two is not None and invalidated.phase_two.oos_confirmed is False
    assert domain.invalidates_original(invalidated)
    assert domain.invalidation_reason(invalidated) == (
        "investigations/SYR-OOS-2026-00001: analyst error: wrong dilution, found on re-review; "
        "outlier test: Grubbs: replicate 3 is an outlier (p < 0.05)"
    )
    assert invalidated.follow_up_results == (RETEST,)  # the plan's results stand


# --- every step only in its state ----------------------------------------------------------

STATES: dict[str, Callable[[], Investigation]] = {
    "phase_one": opened,
    "retest_allowed": retest_allowed,
    "phase_two": phase_two,
    "phase_two_reviewed": reviewed,
    "plan_approved": plan_approved,
    "plan_with_result": plan_with_result,
    "closed_invalidated": closed_invalidated,
    "closed_confirmed": closed_confirmed,
}
OPERATIONS: dict[str, Callable[[Investigation], Investigation]] = {
    "conclude_phase_one": lambda investigation: concluded_one(investigation, INSTRUMENT),
    "record_follow_up": lambda investigation: followed_up(
        investigation, "samples/SYR-S-2026-00001/results/9"
    ),
    "record_manufacturing_review": reviewed,
    "approve_test_plan": plan_approved,
    "conclude_phase_two": lambda investigation: concluded_two(investigation, confirmed=True),
}
# What each operation does in each state: the state after it, or the reason it is refused.
TABLE: dict[str, dict[str, State | str]] = {
    "phase_one": {
        "conclude_phase_one": State.RETEST_ALLOWED, "record_follow_up": "RETEST_NOT_ALLOWED",
    },
    "retest_allowed": {"record_follow_up": State.CLOSED_INVALIDATED},
    "phase_two": {
        "record_follow_up": "RETEST_NOT_ALLOWED",
        "record_manufacturing_review": State.PHASE_TWO,
    },
    "phase_two_reviewed": {
        "record_follow_up": "RETEST_NOT_ALLOWED", "approve_test_plan": State.PLAN_APPROVED,
    },
    "plan_approved": {
        "record_follow_up": State.PLAN_APPROVED, "conclude_phase_two": "PLAN_RESULTS_MISSING",
    },
    "plan_with_result": {
        "record_follow_up": State.PLAN_APPROVED, "conclude_phase_two": State.CLOSED_CONFIRMED,
    },
    "closed_invalidated": {"record_follow_up": "RETEST_NOT_ALLOWED"},
    "closed_confirmed": {"record_follow_up": "RETEST_NOT_ALLOWED"},
}
CASES = [
    (state, operation, TABLE[state].get(operation, "INVESTIGATION_STATE"))
    for state in STATES for operation in OPERATIONS
]


@pytest.mark.parametrize(("state", "operation", "expected"), CASES)
def test_each_step_is_taken_only_in_its_state(state: str, operation: str,
                                              expected: State | str) -> None:
    before = STATES[state]()
    if isinstance(expected, State):
        after = OPERATIONS[operation](before)
        assert after.state is expected and after.revision == before.revision + 1
        return
    with pytest.raises(FailedPrecondition) as refused:
        OPERATIONS[operation](before)
    assert refused.value.reason == expected
    assert refused.value.metadata["name"] == "investigations/SYR-OOS-2026-00001"


def test_a_refusal_names_the_state_and_what_is_allowed() -> None:
    with pytest.raises(FailedPrecondition) as too_early:
        concluded_two(opened(), confirmed=True)
    assert str(too_early.value) == (
        "concluding phase II is allowed in plan_approved only; "
        "investigations/SYR-OOS-2026-00001 is in phase_one"
    )
    assert too_early.value.metadata == {
        "name": "investigations/SYR-OOS-2026-00001", "state": "phase_one",
        "allowed": "plan_approved",
    }
    with pytest.raises(FailedPrecondition) as plan_first:
        plan_approved(phase_two())
    assert plan_first.value.reason == "INVESTIGATION_STATE"
    assert "the manufacturing review comes first" in str(plan_first.value)
    with pytest.raises(FailedPrecondition) as twice:
        reviewed(reviewed())
    assert "recorded already" in str(twice.value)
    with pytest.raises(FailedPrecondition) as no_retest:
        followed_up(phase_two())
    assert "is in phase_two" in str(no_retest.value)


# --- causes --------------------------------------------------------------------------------

def test_an_outlier_test_alone_is_refused_in_both_phases() -> None:
    with pytest.raises(FailedPrecondition) as in_phase_one:
        concluded_one(opened(), OUTLIER, OUTLIER)
    assert in_phase_one.value.reason == "OUTLIER_TEST_ALONE"
    assert "an outlier test alone never invalidates a result" in str(in_phase_one.value)
    with pytest.raises(FailedPrecondition) as in_phase_two:
        concluded_two(plan_with_result(), OUTLIER, confirmed=False)
    assert in_phase_two.value.reason == "OUTLIER_TEST_ALONE"


def test_an_outlier_test_supporting_a_real_cause_is_accepted() -> None:
    investigation = concluded_one(opened(), OUTLIER, INSTRUMENT)
    assert investigation.state is State.RETEST_ALLOWED
    assert investigation.phase_one is not None
    assert investigation.phase_one.causes == (OUTLIER, INSTRUMENT)


def test_an_invalidation_in_phase_two_needs_a_cause() -> None:
    with pytest.raises(InvalidArgument) as no_cause:
        concluded_two(plan_with_result(), confirmed=False)
    assert fields(no_cause) == ["causes"]


def test_a_manufacturing_cause_is_not_found_in_the_laboratory() -> None:
    with pytest.raises(InvalidArgument) as refused:
        concluded_one(opened(), INSTRUMENT, MANUFACTURING)
    assert fields(refused) == ["causes[1].category"]
    assert "not a laboratory cause" in refused.value.violations[0].description


def test_a_manufacturing_cause_confirms_the_oos_and_never_invalidates_the_result() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        concluded_two(plan_with_result(), MANUFACTURING, confirmed=False)
    assert refused.value.reason == "MANUFACTURING_CAUSE_CONFIRMS"
    assert concluded_two(plan_with_result(), INSTRUMENT, MANUFACTURING,
                         confirmed=False).state is InvestigationState.CLOSED_INVALIDATED


# --- bad input, every field named at once --------------------------------------------------

def test_bad_causes_and_summary_are_refused_naming_each_field() -> None:
    causes = [
        Cause(None, "no category"),
        Cause(CauseCategory.CALCULATION, ""),
        Cause(CauseCategory.OTHER, "x" * 2_001),
        Cause(CauseCategory.REAGENT_OR_STANDARD, "expired standard\x00"),
        Cause(CauseCategory.SAMPLE_PREPARATION, "y" * 2_000),  # at the bound: accepted
    ]
    with pytest.raises(InvalidArgument) as refused:
        domain.conclude_phase_one(opened(), causes=causes, summary="  ", signature=ANALYST,
                                  now=T0)
    assert fields(refused) == [
        "causes[0].category", "causes[1].description", "causes[2].description",
        "causes[3].description", "summary",
    ]
    with pytest.raises(InvalidArgument) as long_summary:
        domain.conclude_phase_one(opened(), causes=[], summary="s" * 8_001, signature=ANALYST,
                                  now=T0)
    assert fields(long_summary) == ["summary"]
    with pytest.raises(InvalidArgument) as too_many:
        concluded_one(opened(), *[INSTRUMENT] * (domain.MAX_CAUSES + 1))
    assert fields(too_many) == ["causes"]


def test_bad_review_plan_replicates_and_conclusion_are_refused_naming_each_field() -> None:
    with pytest.raises(InvalidArgument) as no_review:
        domain.record_manufacturing_review(phase_two(), review="", signature=QA, now=T0)
    assert fields(no_review) == ["review"]
    with pytest.raises(InvalidArgument) as long_review:
        domain.record_manufacturing_review(phase_two(), review="r" * 8_001, signature=QA,
                                           now=T0)
    assert fields(long_review) == ["review"]
    for replicates in (0, 13, -1):
        with pytest.raises(InvalidArgument) as bad_plan:
            domain.approve_test_plan(reviewed(), plan=None, replicates=replicates,
                                     signature=QA, now=T0)
        assert fields(bad_plan) == ["plan", "replicates"]
    for replicates in (1, 12):
        approved = domain.approve_test_plan(reviewed(), plan=PlanKind.RESAMPLE,
                                            replicates=replicates, signature=QA, now=T0)
        assert approved.phase_two is not None and approved.phase_two.replicates == replicates
    with pytest.raises(InvalidArgument) as bad_conclusion:
        domain.conclude_phase_two(
            plan_with_result(), oos_confirmed=False, causes=[Cause(None, "")],
            conclusion="", signature=QA, now=T0,
        )
    assert fields(bad_conclusion) == [
        "causes[0].category", "causes[0].description", "conclusion",
    ]


def test_a_follow_up_is_a_new_result_named_once() -> None:
    for result, why in (("", "is required"), (ORIGINAL, "is the result under investigation"),
                        (RETEST, "is recorded under")):
        with pytest.raises(InvalidArgument) as refused:
            followed_up(plan_with_result(), result)
        assert fields(refused) == ["result_name"]
        assert why in refused.value.violations[0].description


# --- nothing is removed --------------------------------------------------------------------

def test_revisions_and_etags_increase_and_nothing_is_removed() -> None:
    steps = [opened()]
    steps.append(concluded_one(steps[-1]))
    steps.append(reviewed(steps[-1]))
    steps.append(plan_approved(steps[-1]))
    steps.append(followed_up(steps[-1]))
    steps.append(followed_up(steps[-1], "samples/SYR-S-2026-00002/results/1"))
    steps.append(concluded_two(steps[-1], INSTRUMENT, confirmed=False))
    assert [step.revision for step in steps] == [1, 2, 3, 4, 5, 6, 7]
    assert [step.etag for step in steps] == ["1", "2", "3", "4", "5", "6", "7"]
    for before, after in pairwise(steps):
        assert after.signatures[:len(before.signatures)] == before.signatures
        assert after.follow_up_results[:len(before.follow_up_results)] == \
            before.follow_up_results
        assert before.phase_one is None or after.phase_one == before.phase_one
        if before.phase_two is not None:
            assert after.phase_two is not None
            assert after.phase_two.manufacturing_review == before.phase_two.manufacturing_review
        assert after.created_at == T0 and after.updated_at >= before.updated_at
    assert steps[0].state is State.PHASE_ONE  # each step returned a new investigation
    with pytest.raises(FrozenInstanceError):
        steps[0].state = State.CLOSED_CONFIRMED  # type: ignore[misc]


def test_a_stale_etag_is_aborted() -> None:
    investigation = phase_two()
    domain.check_etag(investigation, "2")
    with pytest.raises(Aborted) as stale:
        domain.check_etag(investigation, "1")
    assert stale.value.reason == "ETAG_MISMATCH"
