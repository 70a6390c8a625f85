"""On the floor: creating a batch, recording steps, verifying them, correcting values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from services.batch_records.batches.domain.model import (
    FUTURE_TOLERANCE,
    LATE_ENTRY_AFTER,
    READY_EQUIPMENT,
    Batch,
    BatchException,
    BatchState,
    EquipmentUse,
    ExceptionKind,
    ParameterValue,
    Quantity,
    Severity,
    StepExecution,
    StepRecord,
    StepStatus,
    ValueCorrection,
    changed,
    held_or_running,
    recipe_steps,
    require_state,
)
from services.batch_records.master.domain import MasterBatchRecord, MbrState, ProcessParameter, Step
from services.common.domain import bounds
from services.common.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Violations,
)
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureRecord


def create_batch(
    *, batch_id: str, recipe: MasterBatchRecord, site: str, created_by: str, now: datetime,
    planned_quantity: Quantity | None = None, transferred: bool = False,
) -> Batch:
    """A batch following ``recipe``, which must be effective at ``site``: its own, or another
    site's version whose transfer here was accepted (``transferred``, as it was sent). The
    batch keeps a frozen copy."""
    if recipe.state != MbrState.EFFECTIVE or (recipe.home_site != site and not transferred):
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


def record_steps(
    batch: Batch, records: Sequence[StepRecord], *, signature: SignatureRecord,
    equipment_status: Mapping[str, str], now: datetime,
) -> tuple[Batch, list[BatchException]]:
    """Records steps in the order given, all or nothing; returns the exceptions raised."""
    require_state(batch, BatchState.CREATED, BatchState.IN_PROGRESS, action="record a step")
    if not records:
        raise InvalidArgument([FieldViolation("steps", "at least one step record is required")])
    violations = Violations()
    bounds.list_len("steps", records, bounds.STEP_RECORDS_PER_CALL, violations)
    recipe = {step.id: step for step in recipe_steps(batch.recipe)}
    order = [step.id for step in recipe_steps(batch.recipe)]
    executions = {execution.step_id: execution for execution in batch.steps}
    raised: list[BatchException] = []
    next_number = len(batch.exceptions) + 1
    for index, record in enumerate(records):
        path = f"steps[{index}]" if len(records) > 1 else "step"
        if not _check_bounds(record, path, violations):
            continue  # the checks below quote its values
        step = recipe.get(record.step_id)
        if step is None:
            violations.add(f"{path}.step_id", f"{record.step_id!r} is not a step of the recipe")
            continue
        _check_recordable(batch, step, executions, order)
        performed_by = _operator_of(step, record, signature, path, violations)
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
            executed=signature, performed_by=performed_by,
        )
    violations.raise_if_any()
    exceptions = (*batch.exceptions, *raised)
    recorded = changed(
        batch, now, steps=tuple(executions[step_id] for step_id in order),
        exceptions=exceptions, state=held_or_running(batch, exceptions),
    )
    return recorded, raised


def _operator_of(
    step: Step, record: StepRecord, signature: SignatureRecord, path: str,
    violations: Violations,
) -> str:
    """Who did the step: the signer, or the operator an integration account records for.

    An integration account attests that it carried the data, never that a critical step was
    done right: that signature needs a person (DESIGN: independence).
    """
    if signature.role != Role.INTEGRATION.value:
        if record.performed_by and record.performed_by != signature.signer:
            violations.add(
                f"{path}.performed_by",
                "is for integration accounts; a person records only what they did",
            )
        return signature.signer
    if is_critical(step):
        raise PermissionDenied(
            "INTEGRATION_CANNOT_SIGN",
            f"step {step.id} is critical: its execution is signed by the operator, not by "
            f"the integration account {signature.signer}",
            stepId=step.id, signer=signature.signer,
        )
    if not record.performed_by:
        violations.add(
            f"{path}.performed_by", "is required: the operator this integration records for"
        )
    return record.performed_by


def is_critical(step: Step) -> bool:
    """A step with a critical process parameter, or one that needs a second person."""
    return step.requires_verification or any(p.critical for p in step.parameters)


def _check_bounds(record: StepRecord, path: str, violations: Violations) -> bool:
    """The bounds of a step record's text and lists (docs/bounds.md); True when within."""
    before = len(violations.items)
    bounds.text(f"{path}.step_id", record.step_id, bounds.ID_LEN, violations)
    bounds.text(f"{path}.comment", record.comment, bounds.COMMENT_LEN, violations)
    bounds.text(f"{path}.performed_by", record.performed_by, bounds.ID_LEN, violations)
    for field, items, limit in (
        ("parameter_values", record.parameter_values, bounds.PARAMETERS_PER_STEP),
        ("materials", record.materials, bounds.LIST_LEN),
        ("equipment", record.equipment, bounds.LIST_LEN),
    ):
        bounds.list_len(f"{path}.{field}", items, limit, violations)
    for index, (name, _) in enumerate(record.parameter_values):
        bounds.text(f"{path}.parameter_values[{index}].name", name, bounds.NAME_LEN, violations)
    for index, material in enumerate(record.materials):
        at = f"{path}.materials[{index}]"
        bounds.text(f"{at}.material", material.material, bounds.NAME_LEN, violations)
        bounds.text(f"{at}.lot_id", material.lot_id, bounds.ID_LEN, violations)
    for index, (equipment_id, override_reason) in enumerate(record.equipment):
        at = f"{path}.equipment[{index}]"
        bounds.text(f"{at}.equipment_id", equipment_id, bounds.ID_LEN, violations)
        bounds.text(f"{at}.override_reason", override_reason, bounds.COMMENT_LEN, violations)
    return len(violations.items) == before


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


def verify_step(
    batch: Batch, step_id: str, *, signature: SignatureRecord, now: datetime
) -> Batch:
    require_state(
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
    if signature.signer in (execution.executed.signer, execution.performed_by):
        raise PermissionDenied(
            "VERIFIER_IS_EXECUTOR",
            f"step {step_id} was executed by {signature.signer}, who cannot verify it (four eyes)",
            stepId=step_id, signer=signature.signer,
        )
    verified = replace(execution, status=StepStatus.COMPLETE, verified=signature)
    return changed(batch, now, steps=replace_step(batch, verified))


def replace_step(batch: Batch, execution: StepExecution) -> tuple[StepExecution, ...]:
    return tuple(execution if s.step_id == execution.step_id else s for s in batch.steps)


def correct_value(
    batch: Batch, step_id: str, parameter: str, corrected: Quantity, *,
    signature: SignatureRecord, now: datetime,
) -> tuple[Batch, list[BatchException]]:
    """Replaces a recorded value; the previous one stays in the record with who and why."""
    if not signature.reason.strip():
        raise InvalidArgument([FieldViolation("signature.reason", "a correction needs a reason")])
    require_state(
        batch, BatchState.IN_PROGRESS, BatchState.ON_HOLD, BatchState.COMPLETED,
        action="correct a value",
    )
    execution = batch.step(step_id)
    bounds.text("parameter", parameter, bounds.NAME_LEN)
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
    new_value = replace(
        current, value=corrected,
        corrections=(*current.corrections, ValueCorrection(current.value, corrected, signature)),
    )
    execution = replace(
        execution,
        parameter_values=tuple(new_value if v.name == parameter else v
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
        state = held_or_running(batch, exceptions)
    return changed(
        batch, now, steps=replace_step(batch, execution), exceptions=exceptions, state=state
    ), raised


def raise_process_exception(
    batch: Batch, *, source: str, description: str, major: bool, now: datetime
) -> tuple[Batch, BatchException]:
    """An exception another context's event raises (kind PROCESS); a major one puts a running
    batch on hold. A batch already decided (approved or rejected) takes none: refused."""
    require_state(
        batch, BatchState.CREATED, BatchState.IN_PROGRESS, BatchState.ON_HOLD,
        BatchState.COMPLETED, BatchState.IN_REVIEW, action="raise an exception",
    )
    raised = BatchException(
        id=f"EX-{len(batch.exceptions) + 1}", kind=ExceptionKind.PROCESS,
        severity=Severity.MAJOR if major else Severity.MINOR, step_id="",
        description=description, raise_time=now, source=source,
    )
    exceptions = (*batch.exceptions, raised)
    state = batch.state
    if state in (BatchState.IN_PROGRESS, BatchState.ON_HOLD):
        state = held_or_running(batch, exceptions)
    return changed(batch, now, exceptions=exceptions, state=state), raised
