"""After recording: exceptions dispositioned, deviations, completion, review and approval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from services.batch_records.batches.domain.model import (
    Batch,
    BatchDisposition,
    BatchException,
    BatchState,
    Deviation,
    DeviationState,
    ExceptionKind,
    Severity,
    StepStatus,
    changed,
    held_or_running,
    require_state,
)
from services.common.domain import bounds
from services.common.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Precondition,
    PreconditionFailed,
    Violations,
)
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureRecord


def disposition_exception(
    batch: Batch, exception_id: str, *, signature: SignatureRecord, now: datetime
) -> Batch:
    if not signature.reason.strip():
        raise InvalidArgument([FieldViolation(
            "signature.reason", "a disposition needs a reason (the decision and why)"
        )])
    if batch.state in (BatchState.APPROVED, BatchState.REJECTED):
        require_state(batch, BatchState.IN_REVIEW, action="disposition an exception")
    exception = _exception(batch, exception_id)
    if not exception.is_open:
        raise FailedPrecondition(
            "EXCEPTION_ALREADY_DISPOSITIONED", f"{exception_id} is already dispositioned",
            exceptionId=exception_id,
        )
    if exception.needs_qa and signature.role != Role.QA.value:
        proposed = replace(exception, proposed_disposition=signature)
        exceptions = tuple(proposed if e.id == exception_id else e for e in batch.exceptions)
        return changed(batch, now, exceptions=exceptions)
    decided = replace(exception, disposition=signature)
    exceptions = tuple(decided if e.id == exception_id else e for e in batch.exceptions)
    state = batch.state
    if state == BatchState.ON_HOLD:
        state = held_or_running(batch, exceptions)
    return changed(batch, now, exceptions=exceptions, state=state)


def _exception(batch: Batch, exception_id: str) -> BatchException:
    bounds.text("exception_id", exception_id, bounds.ID_LEN)
    for exception in batch.exceptions:
        if exception.id == exception_id:
            return exception
    raise NotFound(
        "EXCEPTION_NOT_FOUND", f"{batch.name} has no exception {exception_id!r}",
        exceptionId=exception_id,
    )


def raise_deviation(
    batch: Batch, *, classification: Severity | None, title: str, description: str,
    exception_ids: Sequence[str], raised_by: str, now: datetime,
) -> tuple[Batch, Deviation]:
    violations = Violations()
    if classification is None:
        violations.add("classification", "is required: minor, major or critical")
    bounds.text("title", title, bounds.NAME_LEN, violations, required=True)
    bounds.text("description", description, bounds.TEXT_LEN, violations)
    bounds.list_len("exception_ids", exception_ids, bounds.LIST_LEN, violations)
    known = {exception.id for exception in batch.exceptions}
    for index, exception_id in enumerate(exception_ids):
        if exception_id not in known:
            violations.add(f"exception_ids[{index}]", f"{batch.name} has no {exception_id!r}")
    violations.raise_if_any()
    if batch.state in (BatchState.APPROVED, BatchState.REJECTED):
        require_state(batch, BatchState.IN_REVIEW, action="raise a deviation")
    assert classification is not None
    deviation = Deviation(
        id=f"DEV-{len(batch.deviations) + 1}", classification=classification, title=title,
        description=description, exception_ids=tuple(exception_ids), raised_by=raised_by,
        raise_time=now,
    )
    return changed(batch, now, deviations=(*batch.deviations, deviation)), deviation


def _open_deviation(batch: Batch, deviation_id: str) -> Deviation:
    bounds.text("deviation_id", deviation_id, bounds.ID_LEN)
    for deviation in batch.deviations:
        if deviation.id == deviation_id:
            if deviation.state != DeviationState.OPEN:
                raise FailedPrecondition(
                    "DEVIATION_CLOSED", f"{deviation_id} is closed", deviationId=deviation_id
                )
            return deviation
    raise NotFound(
        "DEVIATION_NOT_FOUND", f"{batch.name} has no deviation {deviation_id!r}",
        deviationId=deviation_id,
    )


def _replace_deviation(batch: Batch, deviation: Deviation) -> tuple[Deviation, ...]:
    return tuple(deviation if d.id == deviation.id else d for d in batch.deviations)


def update_deviation(
    batch: Batch, deviation_id: str, *, investigation: str, capa_reference: str, now: datetime
) -> Batch:
    violations = Violations()
    bounds.text("investigation", investigation, bounds.TEXT_LEN, violations)
    bounds.text("capa_reference", capa_reference, bounds.NAME_LEN, violations)
    violations.raise_if_any()
    deviation = replace(
        _open_deviation(batch, deviation_id),
        investigation=investigation, capa_reference=capa_reference,
    )
    return changed(batch, now, deviations=_replace_deviation(batch, deviation))


def close_deviation(
    batch: Batch, deviation_id: str, *, signature: SignatureRecord, now: datetime
) -> Batch:
    deviation = _open_deviation(batch, deviation_id)
    if not deviation.investigation.strip():
        raise FailedPrecondition(
            "INVESTIGATION_REQUIRED",
            f"{deviation_id} cannot be closed without its investigation",
            deviationId=deviation_id,
        )
    closed = replace(deviation, state=DeviationState.CLOSED, closure=signature)
    return changed(batch, now, deviations=_replace_deviation(batch, closed))


def complete(
    batch: Batch, *, signature: SignatureRecord, now: datetime
) -> tuple[Batch, list[BatchException]]:
    """Ends execution; a step still waiting for its verifier becomes an exception."""
    require_state(batch, BatchState.IN_PROGRESS, action="complete")
    missing = [s.step_id for s in batch.steps if s.status == StepStatus.NOT_STARTED]
    if missing:
        raise PreconditionFailed(
            "STEPS_NOT_RECORDED", f"{batch.name} cannot be completed",
            [Precondition("STEP_NOT_RECORDED", step_id, "not recorded") for step_id in missing],
        )
    raised = [
        BatchException(
            id=f"EX-{len(batch.exceptions) + index}", kind=ExceptionKind.MISSING_VERIFICATION,
            severity=Severity.MINOR, step_id=step.step_id,
            description=f"step {step.step_id} requires verification and was not verified",
            raise_time=now,
        )
        for index, step in enumerate(
            (s for s in batch.steps if s.status == StepStatus.EXECUTED), start=1
        )
    ]
    return changed(
        batch, now, state=BatchState.COMPLETED, exceptions=(*batch.exceptions, *raised),
        signatures=(*batch.signatures, signature),
    ), raised


def submit_for_review(batch: Batch, *, now: datetime) -> Batch:
    require_state(batch, BatchState.COMPLETED, action="submit for review")
    return changed(batch, now, state=BatchState.IN_REVIEW)


def approve(batch: Batch, *, signature: SignatureRecord, now: datetime) -> Batch:
    """QA approval: refused with every unmet condition listed at once."""
    if batch.state in (BatchState.APPROVED, BatchState.REJECTED):
        require_state(batch, BatchState.IN_REVIEW, action="approve")
    if signature.signer in batch.executors():
        raise PermissionDenied(
            "EXECUTOR_CANNOT_APPROVE",
            f"{signature.signer} executed {batch.name} and cannot approve it (four eyes)",
            signer=signature.signer,
        )
    if signature.signer in batch.verifiers():
        raise PermissionDenied(
            "VERIFIER_CANNOT_APPROVE",
            f"{signature.signer} verified a step of {batch.name} and cannot approve it",
            signer=signature.signer,
        )
    if signature.signer in (batch.created_by, batch.recipe.author):
        raise PermissionDenied(
            "AUTHOR_CANNOT_APPROVE",
            f"{signature.signer} authored {batch.name} or its master record and cannot approve it",
            signer=signature.signer,
        )
    unmet: list[Precondition] = []
    if batch.state != BatchState.IN_REVIEW:
        unmet.append(Precondition("BATCH_NOT_IN_REVIEW", batch.name, f"is {batch.state.value}"))
    unmet += [
        Precondition("EXCEPTION_NOT_DISPOSITIONED", e.id, f"{e.severity.value}: {e.description}")
        for e in batch.open_exceptions()
    ] + [
        Precondition("DEVIATION_OPEN", d.id, f"{d.classification.value}: {d.title}")
        for d in batch.open_deviations()
    ]
    if unmet:
        raise PreconditionFailed(
            "BATCH_NOT_READY_FOR_APPROVAL", f"{batch.name} cannot be approved", unmet
        )
    return changed(
        batch, now, state=BatchState.APPROVED, signatures=(*batch.signatures, signature)
    )


def reject(batch: Batch, *, signature: SignatureRecord, now: datetime) -> Batch:
    if not signature.reason.strip():
        raise InvalidArgument([FieldViolation("signature.reason", "a rejection needs a reason")])
    require_state(batch, BatchState.IN_REVIEW, action="reject")
    return changed(
        batch, now, state=BatchState.REJECTED, signatures=(*batch.signatures, signature)
    )


def record_disposition(batch: Batch, disposition: BatchDisposition, *,
                       now: datetime) -> Batch:
    """QA's disposition as release testing announced it, recorded once (by its name)."""
    if any(held.name == disposition.name for held in batch.dispositions):
        return batch
    return changed(batch, now, dispositions=(*batch.dispositions, disposition))
