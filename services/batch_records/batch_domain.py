"""Executed batch records: step execution, server-raised exceptions, corrections, deviations,
review by exception and QA approval. Pure: no I/O, times passed in.

CREATED → IN_PROGRESS ⇄ ON_HOLD → COMPLETED → IN_REVIEW → APPROVED | REJECTED.
An open major exception holds the batch; every exception is raised here, from what was
recorded, never on the client's word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from services.batch_records.domain import MasterBatchRecord, MbrState, ProcessParameter, Step
from services.common.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Precondition,
    PreconditionFailed,
    Violations,
)
from services.common.identity import Role
from services.common.signatures import SignatureRecord

EXECUTOR_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.INTEGRATION)
VERIFIER_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.QA)
SUPERVISOR_ROLES = (Role.SUPERVISOR, Role.QA)
QA_ROLES = (Role.QA,)
# A step recorded longer than this after it was performed is a late entry.
LATE_ENTRY_AFTER = timedelta(minutes=30)
# Clocks drift; a perform time this far ahead of the server's is refused.
FUTURE_TOLERANCE = timedelta(minutes=5)
READY_EQUIPMENT = frozenset({"CLEAN", "AVAILABLE"})


class BatchState(StrEnum):
    CREATED = "created"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class StepStatus(StrEnum):
    NOT_STARTED = "not_started"
    EXECUTED = "executed"
    COMPLETE = "complete"


class ExceptionKind(StrEnum):
    OUT_OF_LIMITS = "out_of_limits"
    OUTSIDE_ALERT_RANGE = "outside_alert_range"
    MISSING_VERIFICATION = "missing_verification"
    LATE_ENTRY = "late_entry"
    EQUIPMENT_OVERRIDE = "equipment_override"


class Severity(StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class DeviationState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: str

    def __str__(self) -> str:
        return f"{self.value} {self.unit}"


@dataclass(frozen=True)
class ValueCorrection:
    previous: Quantity
    corrected: Quantity
    signature: SignatureRecord


@dataclass(frozen=True)
class ParameterValue:
    name: str
    value: Quantity
    corrections: tuple[ValueCorrection, ...] = ()


@dataclass(frozen=True)
class MaterialAddition:
    material: str
    lot_id: str
    quantity: Quantity


@dataclass(frozen=True)
class EquipmentUse:
    equipment_id: str
    status_at_use: str
    override_reason: str = ""


@dataclass(frozen=True)
class StepExecution:
    step_id: str
    status: StepStatus = StepStatus.NOT_STARTED
    parameter_values: tuple[ParameterValue, ...] = ()
    materials: tuple[MaterialAddition, ...] = ()
    equipment: tuple[EquipmentUse, ...] = ()
    comment: str = ""
    perform_time: datetime | None = None
    record_time: datetime | None = None
    executed: SignatureRecord | None = None
    verified: SignatureRecord | None = None


@dataclass(frozen=True)
class BatchException:
    id: str
    kind: ExceptionKind
    severity: Severity
    step_id: str
    description: str
    raise_time: datetime
    disposition: SignatureRecord | None = None

    @property
    def is_open(self) -> bool:
        return self.disposition is None


@dataclass(frozen=True)
class Deviation:
    id: str
    classification: Severity
    title: str
    description: str
    exception_ids: tuple[str, ...]
    raised_by: str
    raise_time: datetime
    investigation: str = ""
    capa_reference: str = ""
    state: DeviationState = DeviationState.OPEN
    closure: SignatureRecord | None = None


@dataclass(frozen=True)
class Batch:
    batch_id: str
    home_site: str
    recipe: MasterBatchRecord
    state: BatchState
    steps: tuple[StepExecution, ...]
    created_by: str
    create_time: datetime
    update_time: datetime
    planned_quantity: Quantity | None = None
    exceptions: tuple[BatchException, ...] = ()
    deviations: tuple[Deviation, ...] = ()
    signatures: tuple[SignatureRecord, ...] = ()
    revision: int = 1

    @property
    def name(self) -> str:
        return f"batches/{self.batch_id}"

    @property
    def etag(self) -> str:
        return str(self.revision)

    def step(self, step_id: str) -> StepExecution:
        for execution in self.steps:
            if execution.step_id == step_id:
                return execution
        raise NotFound("STEP_NOT_FOUND", f"{self.name} has no step {step_id!r}", stepId=step_id)

    def open_exceptions(self) -> list[BatchException]:
        return [exception for exception in self.exceptions if exception.is_open]

    def open_deviations(self) -> list[Deviation]:
        return [d for d in self.deviations if d.state == DeviationState.OPEN]

    def executors(self) -> set[str]:
        """Everyone who signed the execution of a step or of the batch."""
        signers = {s.executed.signer for s in self.steps if s.executed is not None}
        return signers | {s.signer for s in self.signatures}


@dataclass(frozen=True)
class StepRecord:
    """What the operator reports for one step."""

    step_id: str
    parameter_values: tuple[tuple[str, Quantity], ...] = ()
    materials: tuple[MaterialAddition, ...] = ()
    equipment: tuple[tuple[str, str], ...] = ()  # (equipment id, override reason)
    comment: str = ""
    perform_time: datetime | None = None


def batch_id_for(site_code: str, year: int, number: int) -> str:
    return f"{site_code}-B-{year}-{number:05d}"


def recipe_steps(recipe: MasterBatchRecord) -> list[Step]:
    """The steps of a recipe in execution order."""
    return [
        step
        for unit_procedure in recipe.content.unit_procedures
        for operation in unit_procedure.operations
        for step in operation.steps
    ]


def _require_state(batch: Batch, *allowed: BatchState, action: str) -> None:
    if batch.state in allowed:
        return
    if batch.state == BatchState.ON_HOLD:
        raise FailedPrecondition(
            "BATCH_ON_HOLD",
            f"cannot {action}: {batch.name} is on hold until its major exceptions are "
            f"dispositioned ({', '.join(e.id for e in batch.open_exceptions())})",
            name=batch.name,
        )
    raise FailedPrecondition(
        "INVALID_STATE",
        f"cannot {action} {batch.name}: it is {batch.state.value}",
        name=batch.name, state=batch.state.value,
    )


def _changed(batch: Batch, now: datetime, **changes: object) -> Batch:
    return replace(batch, update_time=now, revision=batch.revision + 1, **changes)  # type: ignore[arg-type]


def _held_or_running(batch: Batch, exceptions: Sequence[BatchException]) -> BatchState:
    major_open = any(e.is_open and e.severity != Severity.MINOR for e in exceptions)
    return BatchState.ON_HOLD if major_open else BatchState.IN_PROGRESS


# --- creation -----------------------------------------------------------------------------

def create_batch(
    *, batch_id: str, recipe: MasterBatchRecord, site: str, created_by: str, now: datetime,
    planned_quantity: Quantity | None = None,
) -> Batch:
    """A batch following ``recipe``, which must be effective at ``site``; it keeps a frozen copy."""
    if recipe.state != MbrState.EFFECTIVE or recipe.home_site != site:
        raise FailedPrecondition(
            "MASTER_RECORD_NOT_EFFECTIVE_AT_SITE",
            f"{recipe.name} is {recipe.state.value} at {recipe.home_site}; a batch at {site} "
            "needs a master record effective there",
            masterBatchRecord=recipe.name, site=site,
        )
    if planned_quantity is not None and planned_quantity.value <= 0:
        raise InvalidArgument([FieldViolation("planned_quantity.value", "must be positive")])
    return Batch(
        batch_id=batch_id, home_site=site, recipe=recipe, state=BatchState.CREATED,
        steps=tuple(StepExecution(step.id) for step in recipe_steps(recipe)),
        created_by=created_by, create_time=now, update_time=now,
        planned_quantity=planned_quantity,
    )


# --- recording ----------------------------------------------------------------------------

def record_steps(
    batch: Batch, records: Sequence[StepRecord], *, signature: SignatureRecord,
    equipment_status: Mapping[str, str], now: datetime,
) -> tuple[Batch, list[BatchException]]:
    """Records steps in the order given, all or nothing; returns the exceptions raised."""
    _require_state(batch, BatchState.CREATED, BatchState.IN_PROGRESS, action="record a step")
    if not records:
        raise InvalidArgument([FieldViolation("steps", "at least one step record is required")])
    violations = Violations()
    recipe = {step.id: step for step in recipe_steps(batch.recipe)}
    order = [step.id for step in recipe_steps(batch.recipe)]
    executions = {execution.step_id: execution for execution in batch.steps}
    raised: list[BatchException] = []
    next_number = len(batch.exceptions) + 1
    for index, record in enumerate(records):
        path = f"steps[{index}]" if len(records) > 1 else "step"
        step = recipe.get(record.step_id)
        if step is None:
            violations.add(f"{path}.step_id", f"{record.step_id!r} is not a step of the recipe")
            continue
        _check_recordable(batch, step, executions, order)
        values = _parameter_values(step, record, path, violations)
        equipment = _equipment_uses(record, path, equipment_status, violations)
        _check_materials(record, path, violations)
        perform_time = record.perform_time or now
        if perform_time > now + FUTURE_TOLERANCE:
            violations.add(f"{path}.perform_time", "is in the future")
        found = _exceptions_of(step, values, equipment, perform_time, now)
        for kind, severity, description in found:
            raised.append(
                BatchException(
                    id=f"EX-{next_number}", kind=kind, severity=severity, step_id=step.id,
                    description=description, raise_time=now,
                )
            )
            next_number += 1
        executions[step.id] = StepExecution(
            step_id=step.id,
            status=StepStatus.EXECUTED if step.requires_verification else StepStatus.COMPLETE,
            parameter_values=values, materials=record.materials, equipment=equipment,
            comment=record.comment, perform_time=perform_time, record_time=now,
            executed=signature,
        )
    violations.raise_if_any()
    exceptions = (*batch.exceptions, *raised)
    recorded = _changed(
        batch, now, steps=tuple(executions[step_id] for step_id in order),
        exceptions=exceptions, state=_held_or_running(batch, exceptions),
    )
    return recorded, raised


def _check_recordable(
    batch: Batch, step: Step, executions: Mapping[str, StepExecution], order: list[str]
) -> None:
    if executions[step.id].status != StepStatus.NOT_STARTED:
        raise FailedPrecondition(
            "STEP_ALREADY_RECORDED",
            f"step {step.id} of {batch.name} is already recorded; correct a value instead",
            stepId=step.id,
        )
    if step.parallel_allowed:
        return
    earlier = order[: order.index(step.id)]
    missing = [
        step_id for step_id in earlier if executions[step_id].status == StepStatus.NOT_STARTED
    ]
    if missing:
        raise FailedPrecondition(
            "STEP_OUT_OF_ORDER",
            f"step {step.id} of {batch.name} comes after {', '.join(missing)}, not recorded yet",
            stepId=step.id, missingSteps=",".join(missing),
        )


def _parameter_values(
    step: Step, record: StepRecord, path: str, violations: Violations
) -> tuple[ParameterValue, ...]:
    parameters = {parameter.name: parameter for parameter in step.parameters}
    given: dict[str, Quantity] = {}
    for index, (name, quantity) in enumerate(record.parameter_values):
        at = f"{path}.parameter_values[{index}]"
        parameter = parameters.get(name)
        if parameter is None:
            violations.add(f"{at}.name", f"{name!r} is not a parameter of step {step.id}")
        elif name in given:
            violations.add(f"{at}.name", f"{name!r} is recorded twice")
        elif quantity.unit != parameter.unit:
            violations.add(
                f"{at}.value.unit",
                f"{name} is recorded in {parameter.unit!r}, not {quantity.unit!r} "
                "(values are never converted)",
            )
        else:
            given[name] = quantity
    for name in parameters:
        if name not in given and not any(n == name for n, _ in record.parameter_values):
            violations.add(f"{path}.parameter_values", f"{name!r} of step {step.id} is missing")
    return tuple(ParameterValue(name, given[name]) for name in parameters if name in given)


def _equipment_uses(
    record: StepRecord, path: str, status: Mapping[str, str], violations: Violations
) -> tuple[EquipmentUse, ...]:
    uses = []
    for index, (equipment_id, override_reason) in enumerate(record.equipment):
        at = f"{path}.equipment[{index}]"
        current = status.get(equipment_id)
        if current is None:
            violations.add(f"{at}.equipment_id", f"{equipment_id!r} is not in the register")
            continue
        if current not in READY_EQUIPMENT and not override_reason.strip():
            raise FailedPrecondition(
                "EQUIPMENT_NOT_READY",
                f"equipment {equipment_id} is {current}, not CLEAN or AVAILABLE; "
                "an override needs a reason",
                equipmentId=equipment_id, status=current,
            )
        uses.append(EquipmentUse(equipment_id, current, override_reason.strip()))
    return tuple(uses)


def _check_materials(record: StepRecord, path: str, violations: Violations) -> None:
    for index, material in enumerate(record.materials):
        at = f"{path}.materials[{index}]"
        if not material.lot_id.strip():
            violations.add(f"{at}.lot_id", "is required")
        if not material.material.strip():
            violations.add(f"{at}.material", "is required")
        if material.quantity.value <= 0:
            violations.add(f"{at}.quantity.value", "must be positive")
        if not material.quantity.unit.strip():
            violations.add(f"{at}.quantity.unit", "is required")


Excursion = tuple[ExceptionKind, Severity, str]


def classify_value(parameter: ProcessParameter, value: Decimal) -> Excursion | None:
    """The exception a recorded value raises, if any."""
    low, high = parameter.low_limit, parameter.high_limit
    limits = f"{_bound(low)}..{_bound(high)} {parameter.unit}"
    if (low is not None and value < low) or (high is not None and value > high):
        if parameter.critical:
            return (
                ExceptionKind.OUT_OF_LIMITS, Severity.MAJOR,
                f"{parameter.name} {value} {parameter.unit} outside {limits} "
                "(critical process parameter)",
            )
        return (
            ExceptionKind.OUT_OF_LIMITS, Severity.MINOR,
            f"{parameter.name} {value} {parameter.unit} outside {limits}",
        )
    alert_low, alert_high = parameter.alert_low, parameter.alert_high
    if (alert_low is not None and value < alert_low) or (
        alert_high is not None and value > alert_high
    ):
        return (
            ExceptionKind.OUTSIDE_ALERT_RANGE, Severity.MINOR,
            f"{parameter.name} {value} {parameter.unit} outside the alert range "
            f"{_bound(alert_low)}..{_bound(alert_high)} {parameter.unit}",
        )
    return None


def _bound(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _exceptions_of(
    step: Step, values: Sequence[ParameterValue], equipment: Sequence[EquipmentUse],
    perform_time: datetime, now: datetime,
) -> list[Excursion]:
    parameters = {parameter.name: parameter for parameter in step.parameters}
    found = []
    for value in values:
        excursion = classify_value(parameters[value.name], value.value.value)
        if excursion is not None:
            found.append(excursion)
    for use in equipment:
        if use.override_reason:
            found.append((
                ExceptionKind.EQUIPMENT_OVERRIDE, Severity.MAJOR,
                f"equipment {use.equipment_id} used while {use.status_at_use}: "
                f"{use.override_reason}",
            ))
    if now - perform_time > LATE_ENTRY_AFTER:
        minutes = int((now - perform_time).total_seconds() // 60)
        found.append((
            ExceptionKind.LATE_ENTRY, Severity.MINOR,
            f"step {step.id} recorded {minutes} min after it was performed",
        ))
    return found


# --- verification and corrections ---------------------------------------------------------

def verify_step(
    batch: Batch, step_id: str, *, signature: SignatureRecord, now: datetime
) -> Batch:
    _require_state(
        batch, BatchState.IN_PROGRESS, BatchState.ON_HOLD, BatchState.COMPLETED,
        action="verify a step",
    )
    execution = batch.step(step_id)
    if execution.status != StepStatus.EXECUTED or execution.executed is None:
        raise FailedPrecondition(
            "STEP_NOT_AWAITING_VERIFICATION",
            f"step {step_id} of {batch.name} is {execution.status.value}, not awaiting "
            "verification",
            stepId=step_id,
        )
    if execution.executed.signer == signature.signer:
        raise PermissionDenied(
            "VERIFIER_IS_EXECUTOR",
            f"step {step_id} was executed by {signature.signer}, who cannot verify it (four eyes)",
            stepId=step_id, signer=signature.signer,
        )
    verified = replace(execution, status=StepStatus.COMPLETE, verified=signature)
    return _changed(batch, now, steps=_replace_step(batch, verified))


def _replace_step(batch: Batch, execution: StepExecution) -> tuple[StepExecution, ...]:
    return tuple(execution if s.step_id == execution.step_id else s for s in batch.steps)


def correct_value(
    batch: Batch, step_id: str, parameter: str, corrected: Quantity, *,
    signature: SignatureRecord, now: datetime,
) -> tuple[Batch, list[BatchException]]:
    """Replaces a recorded value; the previous one stays in the record with who and why."""
    if not signature.reason.strip():
        raise InvalidArgument([FieldViolation("signature.reason", "a correction needs a reason")])
    _require_state(
        batch, BatchState.IN_PROGRESS, BatchState.ON_HOLD, BatchState.COMPLETED,
        action="correct a value",
    )
    execution = batch.step(step_id)
    current = next((v for v in execution.parameter_values if v.name == parameter), None)
    if current is None:
        raise NotFound(
            "VALUE_NOT_RECORDED", f"no recorded value {parameter!r} in step {step_id}",
            stepId=step_id, parameter=parameter,
        )
    if corrected.unit != current.value.unit:
        raise InvalidArgument([FieldViolation(
            "corrected_value.unit",
            f"{parameter} is recorded in {current.value.unit!r}, not {corrected.unit!r}",
        )])
    changed = replace(
        current, value=corrected,
        corrections=(*current.corrections, ValueCorrection(current.value, corrected, signature)),
    )
    execution = replace(
        execution,
        parameter_values=tuple(changed if v.name == parameter else v
                               for v in execution.parameter_values),
    )
    step = next(s for s in recipe_steps(batch.recipe) if s.id == step_id)
    definition = next(p for p in step.parameters if p.name == parameter)
    raised = []
    excursion = classify_value(definition, corrected.value)
    if excursion is not None:
        kind, severity, description = excursion
        raised.append(BatchException(
            id=f"EX-{len(batch.exceptions) + 1}", kind=kind, severity=severity, step_id=step_id,
            description=f"corrected: {description}", raise_time=now,
        ))
    exceptions = (*batch.exceptions, *raised)
    state = batch.state
    if state in (BatchState.IN_PROGRESS, BatchState.ON_HOLD):
        state = _held_or_running(batch, exceptions)
    return _changed(
        batch, now, steps=_replace_step(batch, execution), exceptions=exceptions, state=state
    ), raised


# --- exceptions and deviations ------------------------------------------------------------

def disposition_exception(
    batch: Batch, exception_id: str, *, signature: SignatureRecord, now: datetime
) -> Batch:
    if not signature.reason.strip():
        raise InvalidArgument([FieldViolation(
            "signature.reason", "a disposition needs a reason (the decision and why)"
        )])
    if batch.state in (BatchState.APPROVED, BatchState.REJECTED):
        _require_state(batch, BatchState.IN_REVIEW, action="disposition an exception")
    exception = _exception(batch, exception_id)
    if not exception.is_open:
        raise FailedPrecondition(
            "EXCEPTION_ALREADY_DISPOSITIONED", f"{exception_id} is already dispositioned",
            exceptionId=exception_id,
        )
    decided = replace(exception, disposition=signature)
    exceptions = tuple(decided if e.id == exception_id else e for e in batch.exceptions)
    state = batch.state
    if state == BatchState.ON_HOLD:
        state = _held_or_running(batch, exceptions)
    return _changed(batch, now, exceptions=exceptions, state=state)


def _exception(batch: Batch, exception_id: str) -> BatchException:
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
    if not title.strip():
        violations.add("title", "is required")
    known = {exception.id for exception in batch.exceptions}
    for index, exception_id in enumerate(exception_ids):
        if exception_id not in known:
            violations.add(f"exception_ids[{index}]", f"{batch.name} has no {exception_id!r}")
    violations.raise_if_any()
    if batch.state in (BatchState.APPROVED, BatchState.REJECTED):
        _require_state(batch, BatchState.IN_REVIEW, action="raise a deviation")
    assert classification is not None
    deviation = Deviation(
        id=f"DEV-{len(batch.deviations) + 1}", classification=classification, title=title,
        description=description, exception_ids=tuple(exception_ids), raised_by=raised_by,
        raise_time=now,
    )
    return _changed(batch, now, deviations=(*batch.deviations, deviation)), deviation


def _open_deviation(batch: Batch, deviation_id: str) -> Deviation:
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
    deviation = replace(
        _open_deviation(batch, deviation_id),
        investigation=investigation, capa_reference=capa_reference,
    )
    return _changed(batch, now, deviations=_replace_deviation(batch, deviation))


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
    return _changed(batch, now, deviations=_replace_deviation(batch, closed))


# --- completion, review, approval ---------------------------------------------------------

def complete(
    batch: Batch, *, signature: SignatureRecord, now: datetime
) -> tuple[Batch, list[BatchException]]:
    """Ends execution; a step still waiting for its verifier becomes an exception."""
    _require_state(batch, BatchState.IN_PROGRESS, action="complete")
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
    return _changed(
        batch, now, state=BatchState.COMPLETED, exceptions=(*batch.exceptions, *raised),
        signatures=(*batch.signatures, signature),
    ), raised


def submit_for_review(batch: Batch, *, now: datetime) -> Batch:
    _require_state(batch, BatchState.COMPLETED, action="submit for review")
    return _changed(batch, now, state=BatchState.IN_REVIEW)


def approve(batch: Batch, *, signature: SignatureRecord, now: datetime) -> Batch:
    """QA approval: refused with every unmet condition listed at once."""
    if batch.state in (BatchState.APPROVED, BatchState.REJECTED):
        _require_state(batch, BatchState.IN_REVIEW, action="approve")
    if signature.signer in batch.executors():
        raise PermissionDenied(
            "EXECUTOR_CANNOT_APPROVE",
            f"{signature.signer} executed {batch.name} and cannot approve it (four eyes)",
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
    return _changed(
        batch, now, state=BatchState.APPROVED, signatures=(*batch.signatures, signature)
    )


def reject(batch: Batch, *, signature: SignatureRecord, now: datetime) -> Batch:
    if not signature.reason.strip():
        raise InvalidArgument([FieldViolation("signature.reason", "a rejection needs a reason")])
    _require_state(batch, BatchState.IN_REVIEW, action="reject")
    return _changed(
        batch, now, state=BatchState.REJECTED, signatures=(*batch.signatures, signature)
    )
