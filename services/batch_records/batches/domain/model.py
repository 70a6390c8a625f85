"""Executed batch records: the states, the record's parts and the rules every use shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from services.batch_records.equipment.domain import READY
from services.batch_records.master.domain import MasterBatchRecord, Step
from services.common.domain import bounds
from services.common.domain.errors import FailedPrecondition, NotFound
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureRecord

EXECUTOR_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.INTEGRATION)
VERIFIER_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.QA)
SUPERVISOR_ROLES = (Role.SUPERVISOR, Role.QA)
QA_ROLES = (Role.QA,)
# A step recorded longer than this after it was performed is a late entry.
LATE_ENTRY_AFTER = timedelta(minutes=30)
# Clocks drift; a perform time this far ahead of the server's is refused.
FUTURE_TOLERANCE = timedelta(minutes=5)
READY_EQUIPMENT = READY  # the register's statuses a step may use without an override


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
    PROCESS = "process"  # raised by another context's event (a conjugation run)


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
    performed_by: str = ""  # the operator who did it: the executor, or whom an integration named


@dataclass(frozen=True)
class BatchException:
    id: str
    kind: ExceptionKind
    severity: Severity
    step_id: str
    description: str
    raise_time: datetime
    disposition: SignatureRecord | None = None
    proposed_disposition: SignatureRecord | None = None  # a supervisor's, for QA to decide
    source: str = ""  # a PROCESS exception's resource, e.g. "conjugationRuns/SYR-CR-000001"

    @property
    def needs_qa(self) -> bool:
        """A MAJOR or CRITICAL exception is dispositioned by QA; a supervisor may propose."""
        return self.severity in (Severity.MAJOR, Severity.CRITICAL)

    @property
    def is_open(self) -> bool:
        return self.disposition is None


class DispositionDecision(StrEnum):
    RELEASED = "released"
    REJECTED = "rejected"
    ON_HOLD = "on_hold"


@dataclass(frozen=True)
class BatchDisposition:
    """QA's decision on the batch, which release testing made and announced."""

    name: str  # "batches/{batch_id}/dispositions/{n}"
    decision: DispositionDecision
    signature: SignatureRecord


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
    dispositions: tuple[BatchDisposition, ...] = ()

    @property
    def name(self) -> str:
        return f"batches/{self.batch_id}"

    @property
    def etag(self) -> str:
        return str(self.revision)

    def step(self, step_id: str) -> StepExecution:
        bounds.text("step_id", step_id, bounds.ID_LEN)
        for execution in self.steps:
            if execution.step_id == step_id:
                return execution
        raise NotFound("STEP_NOT_FOUND", f"{self.name} has no step {step_id!r}", stepId=step_id)

    def open_exceptions(self) -> list[BatchException]:
        return [exception for exception in self.exceptions if exception.is_open]

    def open_deviations(self) -> list[Deviation]:
        return [d for d in self.deviations if d.state == DeviationState.OPEN]

    def executors(self) -> set[str]:
        """Everyone who did or signed the execution of a step, or signed the batch."""
        signers = {s.executed.signer for s in self.steps if s.executed is not None}
        operators = {s.performed_by for s in self.steps if s.performed_by}
        return signers | operators | {s.signer for s in self.signatures}

    def verifiers(self) -> set[str]:
        """Everyone who verified a step."""
        return {s.verified.signer for s in self.steps if s.verified is not None}


@dataclass(frozen=True)
class StepRecord:
    """What the operator reports for one step."""

    step_id: str
    parameter_values: tuple[tuple[str, Quantity], ...] = ()
    materials: tuple[MaterialAddition, ...] = ()
    equipment: tuple[tuple[str, str], ...] = ()  # (equipment id, override reason)
    comment: str = ""
    perform_time: datetime | None = None
    performed_by: str = ""  # named by an integration account; a person is the signer


def recipe_steps(recipe: MasterBatchRecord) -> list[Step]:
    """The steps of a recipe in execution order."""
    return [
        step
        for unit_procedure in recipe.content.unit_procedures
        for operation in unit_procedure.operations
        for step in operation.steps
    ]


def require_state(batch: Batch, *allowed: BatchState, action: str) -> None:
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


def changed(batch: Batch, now: datetime, **changes: object) -> Batch:
    return replace(batch, update_time=now, revision=batch.revision + 1, **changes)  # type: ignore[arg-type]


def held_or_running(batch: Batch, exceptions: Sequence[BatchException]) -> BatchState:
    major_open = any(e.is_open and e.severity != Severity.MINOR for e in exceptions)
    return BatchState.ON_HOLD if major_open else BatchState.IN_PROGRESS
