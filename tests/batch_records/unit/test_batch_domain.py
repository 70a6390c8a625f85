"""Every rule of executed batch records, on the pure domain."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.batch_records.batches import domain as bd
from services.batch_records.batches.domain import (
    BatchState,
    ExceptionKind,
    MaterialAddition,
    Quantity,
    Severity,
    StepRecord,
    StepStatus,
)
from services.batch_records.master.domain import (
    MasterBatchRecord,
    MbrState,
    Operation,
    ProcessParameter,
    RecipeContent,
    Step,
    StepKind,
    UnitProcedure,
)
from services.common.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    PreconditionFailed,
)
from services.common.domain.signatures import SignatureMeaning, SignatureRecord

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
READY = {"R-201": "CLEAN", "P-7": "DIRTY"}


def sig(who: str, meaning: SignatureMeaning = SignatureMeaning.EXECUTED,
        reason: str = "", role: str = "operator") -> SignatureRecord:
    return SignatureRecord(who, who.title(), meaning, T0, reason, role)


def recipe(state: MbrState = MbrState.EFFECTIVE, site: str = "syracuse") -> MasterBatchRecord:
    temperature = ProcessParameter(
        name="temperature", unit="Cel", target=Decimal(25), low_limit=Decimal(20),
        high_limit=Decimal(30), critical=True, alert_low=Decimal(22), alert_high=Decimal(28),
    )
    ph = ProcessParameter(name="pH", unit="[pH]", low_limit=Decimal("6.5"),
                          high_limit=Decimal("7.5"))
    steps = (
        Step("S1", "Charge", "Charge antibody", StepKind.MATERIAL_ADDITION),
        Step("S2", "Reduce", "Hold", StepKind.PROCESS_PARAMETER, (temperature, ph),
             requires_verification=True),
        Step("S3", "Sample", "Take IPC sample", StepKind.SAMPLING, parallel_allowed=True),
        Step("S4", "Quench", "Quench", StepKind.INSTRUCTION),
    )
    content = RecipeContent("TWX-101", "conjugation", "t", (
        UnitProcedure("UP1", "U", (Operation("OP1", "O", steps),)),
    ))
    return MasterBatchRecord("SYR-MBR-000001", 1, site, content, state, "alice", T0, T0)


def batch() -> bd.Batch:
    return bd.create_batch(batch_id="SYR-B-2026-00001", recipe=recipe(), site="syracuse",
                           created_by="sam", now=T0)


def record(b: bd.Batch, *records: StepRecord, who: str = "olga",
           now: datetime = T0) -> tuple[bd.Batch, list[bd.BatchException]]:
    return bd.record_steps(b, records, signature=sig(who), equipment_status=READY, now=now)


S1 = StepRecord("S1", materials=(MaterialAddition("mAb", "L-1", Quantity(Decimal(5), "kg")),),
                equipment=(("R-201", ""),))


def s2(temperature: str = "25", ph: str = "7.0") -> StepRecord:
    return StepRecord("S2", parameter_values=(
        ("temperature", Quantity(Decimal(temperature), "Cel")),
        ("pH", Quantity(Decimal(ph), "[pH]")),
    ))


def test_a_batch_needs_a_master_record_effective_at_its_site() -> None:
    for bad in (recipe(MbrState.APPROVED), recipe(site="songdo")):
        with pytest.raises(FailedPrecondition) as raised:
            bd.create_batch(batch_id="X", recipe=bad, site="syracuse", created_by="s", now=T0)
        assert raised.value.reason == "MASTER_RECORD_NOT_EFFECTIVE_AT_SITE"
    b = batch()
    assert [s.step_id for s in b.steps] == ["S1", "S2", "S3", "S4"]
    assert b.state is BatchState.CREATED and b.recipe.version == 1


def test_steps_run_in_order_unless_free_to_run_in_parallel() -> None:
    with pytest.raises(FailedPrecondition) as raised:
        record(batch(), s2())
    assert raised.value.reason == "STEP_OUT_OF_ORDER"
    b, _ = record(batch(), StepRecord("S3"))  # parallel allowed
    assert b.step("S3").status is StepStatus.COMPLETE and b.state is BatchState.IN_PROGRESS
    b, _ = record(b, S1, s2())
    assert b.step("S2").status is StepStatus.EXECUTED  # waits for its verifier
    with pytest.raises(FailedPrecondition) as again:
        record(b, S1)
    assert again.value.reason == "STEP_ALREADY_RECORDED"


def test_a_value_in_another_unit_is_refused_not_converted() -> None:
    b, _ = record(batch(), S1)
    wrong = StepRecord("S2", parameter_values=(
        ("temperature", Quantity(Decimal(77), "[degF]")), ("pH", Quantity(Decimal(7), "[pH]")),
    ))
    with pytest.raises(InvalidArgument) as raised:
        record(b, wrong)
    assert [v.field for v in raised.value.violations] == ["step.parameter_values[0].value.unit"]


def test_missing_and_unknown_parameters_are_named() -> None:
    b, _ = record(batch(), S1)
    partial = StepRecord("S2", parameter_values=(("colour", Quantity(Decimal(1), "1")),))
    with pytest.raises(InvalidArgument) as raised:
        record(b, partial)
    fields = [v.field for v in raised.value.violations]
    assert "step.parameter_values[0].name" in fields
    assert fields.count("step.parameter_values") == 2


def test_equipment_must_be_clean_or_available_unless_overridden() -> None:
    dirty = StepRecord("S1", equipment=(("P-7", ""),))
    with pytest.raises(FailedPrecondition) as raised:
        record(batch(), dirty)
    assert raised.value.reason == "EQUIPMENT_NOT_READY"
    with pytest.raises(InvalidArgument):
        record(batch(), StepRecord("S1", equipment=(("NOPE", ""),)))
    b, found = record(batch(), StepRecord("S1", equipment=(("P-7", "only pump free"),)))
    assert [(e.kind, e.severity) for e in found] == [
        (ExceptionKind.EQUIPMENT_OVERRIDE, Severity.MAJOR)
    ]
    assert b.state is BatchState.ON_HOLD


@pytest.mark.parametrize(
    ("temperature", "expected", "state"),
    [
        ("25", [], BatchState.IN_PROGRESS),
        ("29", [(ExceptionKind.OUTSIDE_ALERT_RANGE, Severity.MINOR)], BatchState.IN_PROGRESS),
        ("36", [(ExceptionKind.OUT_OF_LIMITS, Severity.MAJOR)], BatchState.ON_HOLD),
    ],
)
def test_the_server_raises_exceptions_from_the_values(
    temperature: str, expected: list[tuple[ExceptionKind, Severity]], state: BatchState
) -> None:
    b, _ = record(batch(), S1)
    b, found = record(b, s2(temperature))
    assert [(e.kind, e.severity) for e in found] == expected
    assert b.state is state


def test_a_non_critical_excursion_is_minor_and_a_late_entry_is_flagged() -> None:
    b, _ = record(batch(), S1)
    late = replace(s2(ph="8.0"), perform_time=T0 - timedelta(hours=2))
    b, found = record(b, late)
    assert {(e.kind, e.severity) for e in found} == {
        (ExceptionKind.OUT_OF_LIMITS, Severity.MINOR), (ExceptionKind.LATE_ENTRY, Severity.MINOR),
    }


def test_a_hold_refuses_recording_and_approval_until_a_disposition() -> None:
    b, _ = record(batch(), S1)
    b, found = record(b, s2("36"))
    with pytest.raises(PreconditionFailed) as refused:
        bd.approve(b, signature=sig("quinn", SignatureMeaning.APPROVED), now=T0)
    assert [(c.type, c.subject) for c in refused.value.conditions] == [
        ("BATCH_NOT_IN_REVIEW", b.name), ("EXCEPTION_NOT_DISPOSITIONED", found[0].id),
    ]
    with pytest.raises(FailedPrecondition) as raised:
        record(b, StepRecord("S3"))
    assert raised.value.reason == "BATCH_ON_HOLD"
    with pytest.raises(InvalidArgument):
        bd.disposition_exception(b, found[0].id, signature=sig("sue"), now=T0)
    b = bd.disposition_exception(
        b, found[0].id,
        signature=sig("sue", SignatureMeaning.REVIEWED, "probe fault, re-measured", "qa"),
        now=T0,
    )
    assert b.state is BatchState.IN_PROGRESS and not b.open_exceptions()


def test_the_executor_cannot_verify_their_own_step() -> None:
    b, _ = record(batch(), S1)
    b, _ = record(b, s2())
    with pytest.raises(PermissionDenied) as raised:
        bd.verify_step(b, "S2", signature=sig("olga", SignatureMeaning.VERIFIED), now=T0)
    assert raised.value.reason == "VERIFIER_IS_EXECUTOR"
    b = bd.verify_step(b, "S2", signature=sig("vera", SignatureMeaning.VERIFIED), now=T0)
    assert b.step("S2").status is StepStatus.COMPLETE


def test_a_correction_keeps_the_original_with_reason_and_signer() -> None:
    b, _ = record(batch(), S1)
    b, _ = record(b, s2("25"))
    with pytest.raises(InvalidArgument):
        bd.correct_value(b, "S2", "temperature", Quantity(Decimal(26), "Cel"),
                         signature=sig("olga"), now=T0)
    b, found = bd.correct_value(
        b, "S2", "temperature", Quantity(Decimal(36), "Cel"),
        signature=sig("olga", SignatureMeaning.AUTHORED, "transcription error"), now=T0,
    )
    value = b.step("S2").parameter_values[0]
    assert value.value == Quantity(Decimal(36), "Cel")
    assert value.corrections[0].previous == Quantity(Decimal(25), "Cel")
    assert value.corrections[0].signature.reason == "transcription error"
    assert found[0].severity is Severity.MAJOR and b.state is BatchState.ON_HOLD


def finished() -> bd.Batch:
    b, _ = record(batch(), S1, s2(), StepRecord("S3"), StepRecord("S4"))
    return b


def test_completion_needs_every_step_and_flags_missing_verification() -> None:
    b, _ = record(batch(), S1)
    with pytest.raises(PreconditionFailed) as raised:
        bd.complete(b, signature=sig("sue"), now=T0)
    assert [c.subject for c in raised.value.conditions] == ["S2", "S3", "S4"]
    b, found = bd.complete(finished(), signature=sig("sue"), now=T0)
    assert b.state is BatchState.COMPLETED
    assert [(e.kind, e.step_id) for e in found] == [(ExceptionKind.MISSING_VERIFICATION, "S2")]


def reviewed() -> bd.Batch:
    b, _ = bd.complete(finished(), signature=sig("sue"), now=T0)
    b, _ = bd.raise_deviation(b, classification=Severity.MINOR, title="verification missed",
                              description="", exception_ids=["EX-1"], raised_by="sue", now=T0)
    return bd.submit_for_review(b, now=T0)


def test_approval_lists_every_unmet_condition() -> None:
    b = reviewed()
    with pytest.raises(PreconditionFailed) as raised:
        bd.approve(b, signature=sig("quinn", SignatureMeaning.APPROVED), now=T0)
    assert [(c.type, c.subject) for c in raised.value.conditions] == [
        ("EXCEPTION_NOT_DISPOSITIONED", "EX-1"), ("DEVIATION_OPEN", "DEV-1"),
    ]


def test_executors_and_authors_cannot_approve() -> None:
    b = reviewed()
    for who, reason in (("olga", "EXECUTOR_CANNOT_APPROVE"), ("sue", "EXECUTOR_CANNOT_APPROVE"),
                        ("sam", "AUTHOR_CANNOT_APPROVE"), ("alice", "AUTHOR_CANNOT_APPROVE")):
        with pytest.raises(PermissionDenied) as raised:
            bd.approve(b, signature=sig(who, SignatureMeaning.APPROVED), now=T0)
        assert raised.value.reason == reason


def test_a_deviation_closes_with_its_investigation_and_then_qa_approves() -> None:
    b = reviewed()
    with pytest.raises(FailedPrecondition) as raised:
        bd.close_deviation(b, "DEV-1", signature=sig("quinn"), now=T0)
    assert raised.value.reason == "INVESTIGATION_REQUIRED"
    b = bd.update_deviation(b, "DEV-1", investigation="verifier called away",
                            capa_reference="CAPA-2026-017", now=T0)
    b = bd.close_deviation(b, "DEV-1", signature=sig("quinn", SignatureMeaning.APPROVED), now=T0)
    b = bd.disposition_exception(
        b, "EX-1", signature=sig("quinn", SignatureMeaning.REVIEWED, "covered by DEV-1"), now=T0
    )
    b = bd.approve(b, signature=sig("quinn", SignatureMeaning.APPROVED), now=T0)
    assert b.state is BatchState.APPROVED
    with pytest.raises(FailedPrecondition):
        bd.correct_value(b, "S2", "pH", Quantity(Decimal(7), "[pH]"),
                         signature=sig("olga", reason="x"), now=T0)


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(InvalidArgument):
        bd.reject(reviewed(), signature=sig("quinn", SignatureMeaning.REJECTED), now=T0)
    b = bd.reject(reviewed(), signature=sig("quinn", SignatureMeaning.REJECTED, "incomplete"),
                  now=T0)
    assert b.state is BatchState.REJECTED


# Independence (DESIGN: GMP records): who did, verified or carried the data does not decide.

def test_a_verifier_of_any_step_cannot_approve_the_batch() -> None:
    b, _ = record(batch(), S1)
    b, _ = record(b, s2())
    b = bd.verify_step(b, "S2", signature=sig("vera", SignatureMeaning.VERIFIED), now=T0)
    b, _ = record(b, StepRecord("S3"), StepRecord("S4"))
    b, _ = bd.complete(b, signature=sig("sue"), now=T0)
    b = bd.submit_for_review(b, now=T0)
    with pytest.raises(PermissionDenied) as raised:
        bd.approve(b, signature=sig("vera", SignatureMeaning.APPROVED, role="qa"), now=T0)
    assert raised.value.reason == "VERIFIER_CANNOT_APPROVE"
    approved = bd.approve(b, signature=sig("quinn", SignatureMeaning.APPROVED, role="qa"), now=T0)
    assert approved.state is BatchState.APPROVED


def integration(who: str = "mes") -> SignatureRecord:
    return sig(who, role="integration")


def test_an_integration_records_for_a_named_operator_and_that_operator_did_the_step() -> None:
    with pytest.raises(InvalidArgument) as unnamed:
        bd.record_steps(batch(), [S1], signature=integration(), equipment_status=READY, now=T0)
    assert [v.field for v in unnamed.value.violations] == ["step.performed_by"]
    b, _ = bd.record_steps(batch(), [replace(S1, performed_by="olga")], signature=integration(),
                           equipment_status=READY, now=T0)
    assert b.step("S1").performed_by == "olga" and b.step("S1").executed.signer == "mes"
    assert "olga" in b.executors()


def test_an_integration_cannot_sign_the_execution_of_a_critical_step() -> None:
    b, _ = record(batch(), S1)
    with pytest.raises(PermissionDenied) as raised:
        bd.record_steps(b, [replace(s2(), performed_by="olga")], signature=integration(),
                        equipment_status=READY, now=T0)
    assert raised.value.reason == "INTEGRATION_CANNOT_SIGN"


def test_a_person_records_only_what_they_did() -> None:
    with pytest.raises(InvalidArgument) as raised:
        record(batch(), replace(S1, performed_by="someone-else"))
    assert [v.field for v in raised.value.violations] == ["step.performed_by"]
    b, _ = record(batch(), S1)
    assert b.step("S1").performed_by == "olga"


def test_a_major_exception_is_dispositioned_by_qa_a_supervisor_only_proposes() -> None:
    b, _ = record(batch(), S1)
    b, [major] = record(b, s2("36"))
    assert major.severity is Severity.MAJOR and b.state is BatchState.ON_HOLD
    proposal = sig("sue", SignatureMeaning.REVIEWED, "probe fault", role="supervisor")
    b = bd.disposition_exception(b, major.id, signature=proposal, now=T0)
    assert b.state is BatchState.ON_HOLD and b.open_exceptions()[0].proposed_disposition == proposal
    decision = sig("quinn", SignatureMeaning.REVIEWED, "agreed: probe fault", role="qa")
    b = bd.disposition_exception(b, major.id, signature=decision, now=T0)
    assert b.state is BatchState.IN_PROGRESS and not b.open_exceptions()


def test_a_minor_exception_is_dispositioned_by_a_supervisor() -> None:
    b, _ = record(batch(), S1)
    b, [minor] = record(b, s2("21"))
    assert minor.severity is Severity.MINOR
    b = bd.disposition_exception(
        b, minor.id, signature=sig("sue", SignatureMeaning.REVIEWED, "ok", role="supervisor"),
        now=T0,
    )
    assert not b.open_exceptions()


def test_a_step_record_out_of_bounds_is_refused_naming_each_field() -> None:
    hostile = replace(
        S1, comment="ok\x01", equipment=(("R" * 1_000_000, ""),),
        materials=(MaterialAddition("mAb", "L-1\ufffe", Quantity(Decimal(5), "kg")),),
    )
    with pytest.raises(InvalidArgument) as raised:
        record(batch(), hostile)
    assert sorted(v.field for v in raised.value.violations) == [
        "step.comment", "step.equipment[0].equipment_id", "step.materials[0].lot_id",
    ]
    assert all(len(v.description) < 200 for v in raised.value.violations)


def test_a_disposition_is_recorded_once_by_its_name_and_kept_in_order() -> None:
    held = bd.BatchDisposition("batches/SYR-B-2026-00001/dispositions/1",
                               bd.DispositionDecision.ON_HOLD, sig("qa", SignatureMeaning.APPROVED))
    released = bd.BatchDisposition("batches/SYR-B-2026-00001/dispositions/2",
                                   bd.DispositionDecision.RELEASED,
                                   sig("qa", SignatureMeaning.RELEASED))
    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    once = bd.record_disposition(batch(), held, now=now)
    assert bd.record_disposition(once, held, now=now) is once  # a repeated event: no change
    both = bd.record_disposition(once, released, now=now)
    assert [d.decision for d in both.dispositions] == [bd.DispositionDecision.ON_HOLD,
                                                       bd.DispositionDecision.RELEASED]
    assert both.revision == batch().revision + 2
