"""Every rule of the master batch record lifecycle, on the pure domain."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.batch_records.master import domain
from services.batch_records.master.domain import (
    MbrState,
    Operation,
    ProcessParameter,
    RecipeContent,
    Step,
    StepKind,
    UnitProcedure,
)
from services.batch_records.master.names import record_id_for
from services.common.domain.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
)
from services.common.domain.signatures import SignatureMeaning, SignatureRecord

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def recipe(**overrides: object) -> RecipeContent:
    step = Step(
        id="S1", name="Reduce", instruction="Add TCEP, hold at 25 Cel for 90 min",
        kind=StepKind.PROCESS_PARAMETER,
        parameters=(
            ProcessParameter(
                name="temperature", unit="Cel", target=Decimal("25"), low_limit=Decimal("20"),
                high_limit=Decimal("30"), critical=True,
            ),
        ),
        requires_verification=True,
    )
    content = RecipeContent(
        product="TWX-101", process="cysteine conjugation", title="TWX-101 conjugation 200 L",
        unit_procedures=(
            UnitProcedure(
                id="UP1", name="Conjugation",
                operations=(Operation(id="OP1", name="Reduction", steps=(step,)),),
            ),
        ),
    )
    return replace(content, **overrides)  # type: ignore[arg-type]


def signature(signer: str, meaning: SignatureMeaning, reason: str = "") -> SignatureRecord:
    return SignatureRecord(
        signer=signer, printed_name=signer.title(), meaning=meaning, sign_time=T0, reason=reason,
        role="qa",
    )


def draft() -> domain.MasterBatchRecord:
    return domain.create_draft(
        record_id="SYR-MBR-000001", home_site="syracuse", content=recipe(), author="alice",
        now=T0,
    )


def in_review() -> domain.MasterBatchRecord:
    record = draft()
    return domain.submit_for_review(record, etag=record.etag, now=T0)


def reviewed() -> domain.MasterBatchRecord:
    record = in_review()
    return domain.review(
        record, signature=signature("rita", SignatureMeaning.REVIEWED), etag=record.etag, now=T0
    )


def approved() -> domain.MasterBatchRecord:
    record = reviewed()
    return domain.approve(
        record, signature=signature("quinn", SignatureMeaning.APPROVED), etag=record.etag, now=T0
    )


def effective() -> domain.MasterBatchRecord:
    record = approved()
    made, _ = domain.make_effective(
        record, signature=signature("quinn", SignatureMeaning.MADE_EFFECTIVE), etag=record.etag,
        site="syracuse", current=None, now=T0,
    )
    return made


def violation_fields(error: InvalidArgument) -> set[str]:
    return {violation.field for violation in error.violations}


def test_a_new_record_is_a_draft_version_1_with_the_site_code_in_its_id() -> None:
    record = draft()
    assert record.state is MbrState.DRAFT
    assert record.version == 1
    assert record.name == "masterBatchRecords/SYR-MBR-000001/versions/1"
    assert record_id_for("SDO", 42) == "SDO-MBR-000042"


def test_validation_names_every_bad_field() -> None:
    bad_step = Step(
        id="S1", name="", instruction="", kind=None,
        parameters=(
            ProcessParameter(name="pH", unit="", low_limit=Decimal("8"), high_limit=Decimal("7")),
        ),
    )
    content = recipe(
        product="",
        unit_procedures=(
            UnitProcedure(
                id="UP1", name="U", operations=(Operation(id="OP1", name="O", steps=(bad_step,)),)
            ),
        ),
    )
    with pytest.raises(InvalidArgument) as raised:
        domain.validate_content(content)
    step = "master_batch_record.unit_procedures[0].operations[0].steps[0]"
    assert violation_fields(raised.value) == {
        "master_batch_record.product", f"{step}.name", f"{step}.instruction", f"{step}.kind",
        f"{step}.parameters[0].unit", f"{step}.parameters[0].low_limit",
    }


def test_structure_needs_unit_procedures_operations_and_unique_step_ids() -> None:
    with pytest.raises(InvalidArgument) as raised:
        domain.validate_content(recipe(unit_procedures=()))
    assert violation_fields(raised.value) == {"master_batch_record.unit_procedures"}
    content = recipe()
    up = content.unit_procedures[0]
    twice = replace(up, operations=(*up.operations, replace(up.operations[0], id="OP2")))
    with pytest.raises(InvalidArgument) as raised:
        domain.validate_content(replace(content, unit_procedures=(twice,)))
    assert "steps[0].id" in next(iter(violation_fields(raised.value)))


def test_target_outside_limits_and_critical_without_limits_are_refused() -> None:
    parameter = ProcessParameter(name="t", unit="Cel", target=Decimal("40"),
                                 high_limit=Decimal("30"))
    critical = ProcessParameter(name="pH", unit="[pH]", critical=True)
    content = recipe()
    up = content.unit_procedures[0]
    step = replace(up.operations[0].steps[0], parameters=(parameter, critical))
    broken = replace(up, operations=(replace(up.operations[0], steps=(step,)),))
    with pytest.raises(InvalidArgument) as raised:
        domain.validate_content(replace(content, unit_procedures=(broken,)))
    fields = violation_fields(raised.value)
    assert any(field.endswith("parameters[0].target") for field in fields)
    assert any(field.endswith("parameters[1].critical") for field in fields)


def test_a_draft_updates_by_mask_and_its_etag_changes() -> None:
    record = draft()
    updated = domain.update_draft(
        record, content=recipe(title="New title", product="ignored"),
        paths=frozenset({"title"}), etag=record.etag, now=T0 + timedelta(minutes=1),
    )
    assert updated.content.title == "New title"
    assert updated.content.product == "TWX-101"
    assert updated.etag != record.etag


def test_a_stale_etag_is_aborted() -> None:
    record = draft()
    updated = domain.update_draft(
        record, content=recipe(title="A"), paths=frozenset({"title"}), etag=record.etag, now=T0
    )
    with pytest.raises(Aborted):
        domain.update_draft(
            updated, content=recipe(title="B"), paths=frozenset({"title"}), etag=record.etag,
            now=T0,
        )


def test_update_mask_must_name_updatable_fields() -> None:
    record = draft()
    with pytest.raises(InvalidArgument) as raised:
        domain.update_draft(
            record, content=recipe(), paths=frozenset({"state"}), etag=record.etag, now=T0
        )
    assert violation_fields(raised.value) == {"update_mask"}


@pytest.mark.parametrize("make", [in_review, approved, effective])
def test_only_a_draft_changes(make) -> None:  # type: ignore[no-untyped-def]
    record = make()
    with pytest.raises(FailedPrecondition) as raised:
        domain.update_draft(
            record, content=recipe(title="X"), paths=frozenset({"title"}), etag=record.etag,
            now=T0,
        )
    assert raised.value.reason == "INVALID_STATE"


def test_the_author_cannot_review_approve_or_reject() -> None:
    record = in_review()
    with pytest.raises(PermissionDenied):
        domain.review(record, signature=signature("alice", SignatureMeaning.REVIEWED),
                      etag=record.etag, now=T0)
    record = reviewed()
    with pytest.raises(PermissionDenied) as raised:
        domain.approve(record, signature=signature("alice", SignatureMeaning.APPROVED),
                       etag=record.etag, now=T0)
    assert raised.value.reason == "AUTHOR_CANNOT_SIGN"
    with pytest.raises(PermissionDenied):
        domain.reject(record, signature=signature("alice", SignatureMeaning.REJECTED, "no"),
                      etag=record.etag, now=T0)


def test_approval_needs_a_review_by_someone_else() -> None:
    record = in_review()
    with pytest.raises(FailedPrecondition) as raised:
        domain.approve(record, signature=signature("quinn", SignatureMeaning.APPROVED),
                       etag=record.etag, now=T0)
    assert raised.value.reason == "REVIEW_REQUIRED"
    record = reviewed()
    with pytest.raises(PermissionDenied) as denied:
        domain.approve(record, signature=signature("rita", SignatureMeaning.APPROVED),
                       etag=record.etag, now=T0)
    assert denied.value.reason == "REVIEWER_CANNOT_APPROVE"


def test_a_record_is_reviewed_once_per_round() -> None:
    record = reviewed()
    with pytest.raises(FailedPrecondition) as raised:
        domain.review(record, signature=signature("sam", SignatureMeaning.REVIEWED),
                      etag=record.etag, now=T0)
    assert raised.value.reason == "ALREADY_REVIEWED"


def test_rejection_needs_a_reason_and_returns_to_draft_and_a_new_review() -> None:
    record = reviewed()
    with pytest.raises(InvalidArgument):
        domain.reject(record, signature=signature("quinn", SignatureMeaning.REJECTED),
                      etag=record.etag, now=T0)
    rejected = domain.reject(
        record, signature=signature("quinn", SignatureMeaning.REJECTED, "wrong pH limits"),
        etag=record.etag, now=T0,
    )
    assert rejected.state is MbrState.DRAFT
    assert rejected.reviewer() is None
    resubmitted = domain.submit_for_review(rejected, etag=rejected.etag, now=T0)
    with pytest.raises(FailedPrecondition):
        domain.approve(resubmitted, signature=signature("quinn", SignatureMeaning.APPROVED),
                       etag=resubmitted.etag, now=T0)


def test_approval_keeps_signatures_in_order_with_meaning() -> None:
    record = approved()
    assert record.state is MbrState.APPROVED
    assert [s.meaning for s in record.signatures] == [
        SignatureMeaning.REVIEWED, SignatureMeaning.APPROVED,
    ]


def test_only_an_approved_record_becomes_effective_and_only_at_its_home_site() -> None:
    record = in_review()
    with pytest.raises(FailedPrecondition):
        domain.make_effective(record, signature=signature("quinn", SignatureMeaning.MADE_EFFECTIVE),
                              etag=record.etag, site="syracuse", current=None, now=T0)
    record = approved()
    with pytest.raises(PermissionDenied) as raised:
        domain.make_effective(record, signature=signature("quinn", SignatureMeaning.MADE_EFFECTIVE),
                              etag=record.etag, site="songdo", current=None, now=T0)
    assert raised.value.reason == "NOT_HOME_SITE"


def test_a_new_version_supersedes_the_effective_one() -> None:
    first = effective()
    second = domain.new_version(first, author="alice", now=T0)
    assert (second.version, second.state, second.supersedes) == (2, MbrState.DRAFT, first.name)
    with pytest.raises(FailedPrecondition) as raised:
        domain.new_version(second, author="alice", now=T0)
    assert raised.value.reason == "OPEN_VERSION_EXISTS"
    second = domain.submit_for_review(second, etag=second.etag, now=T0)
    second = domain.review(second, signature=signature("rita", SignatureMeaning.REVIEWED),
                           etag=second.etag, now=T0)
    second = domain.approve(second, signature=signature("quinn", SignatureMeaning.APPROVED),
                            etag=second.etag, now=T0)
    made, superseded = domain.make_effective(
        second, signature=signature("quinn", SignatureMeaning.MADE_EFFECTIVE), etag=second.etag,
        site="syracuse", current=first, now=T0,
    )
    assert made.state is MbrState.EFFECTIVE
    assert superseded is not None
    assert (superseded.state, superseded.superseded_by) == (MbrState.SUPERSEDED, made.name)


def test_an_older_version_cannot_become_effective_over_a_newer_one() -> None:
    older = approved()
    newer = replace(effective(), version=2)
    with pytest.raises(FailedPrecondition) as raised:
        domain.make_effective(older, signature=signature("quinn", SignatureMeaning.MADE_EFFECTIVE),
                              etag=older.etag, site="syracuse", current=newer, now=T0)
    assert raised.value.reason == "NEWER_VERSION_EFFECTIVE"


def test_a_recipe_out_of_bounds_is_refused_naming_each_field() -> None:
    step = recipe().unit_procedures[0].operations[0].steps[0]
    long_step = replace(step, instruction="x" * 1_000_000, name="Reduce\x0b")
    content = recipe(
        title="TWX\ufffe",
        unit_procedures=(replace(
            recipe().unit_procedures[0],
            operations=(replace(recipe().unit_procedures[0].operations[0], steps=(long_step,)),),
        ),),
    )
    with pytest.raises(InvalidArgument) as raised:
        domain.create_draft(
            record_id="SYR-MBR-000001", home_site="syracuse", content=content, author="alice",
            now=T0,
        )
    at = "master_batch_record.unit_procedures[0].operations[0].steps[0]"
    assert violation_fields(raised.value) == {
        "master_batch_record.title", f"{at}.instruction", f"{at}.name",
    }


@pytest.mark.parametrize("node_id", ["S\u0661", "S1\n"])
def test_ids_are_ascii_and_matched_whole(node_id: str) -> None:
    step = replace(recipe().unit_procedures[0].operations[0].steps[0], id=node_id)
    operation = replace(recipe().unit_procedures[0].operations[0], steps=(step,))
    content = recipe(unit_procedures=(replace(recipe().unit_procedures[0],
                                              operations=(operation,)),))
    with pytest.raises(InvalidArgument) as raised:
        domain.validate_content(content)
    assert violation_fields(raised.value) == {
        "master_batch_record.unit_procedures[0].operations[0].steps[0].id"
    }
