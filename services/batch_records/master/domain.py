"""Master batch records: the ISA-88 recipe structure and its lifecycle rules. Pure: no I/O.

DRAFT → IN_REVIEW → (reviewed) → APPROVED → EFFECTIVE → SUPERSEDED; a rejection sends a
record in review back to DRAFT. Only a draft changes; an approved version never does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from services.batch_records.master.names import version_key
from services.common.domain import bounds
from services.common.domain.errors import (
    Aborted,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Violations,
)
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from services.common.domain.units import is_ucum

AUTHOR_ROLES = (Role.PROCESS_ENGINEER,)
REVIEWER_ROLES = (Role.PROCESS_ENGINEER, Role.SUPERVISOR, Role.QA)
APPROVER_ROLES = (Role.QA,)
UPDATABLE_PATHS = frozenset({"product", "process", "title", "unit_procedures"})
STEP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
UNIT_LEN = 32  # longer than any UCUM code a recipe needs


class MbrState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    EFFECTIVE = "effective"
    SUPERSEDED = "superseded"


class StepKind(StrEnum):
    INSTRUCTION = "instruction"
    PROCESS_PARAMETER = "process_parameter"
    MATERIAL_ADDITION = "material_addition"
    EQUIPMENT_CHECK = "equipment_check"
    SAMPLING = "sampling"


@dataclass(frozen=True)
class ProcessParameter:
    name: str
    unit: str
    target: Decimal | None = None
    low_limit: Decimal | None = None
    high_limit: Decimal | None = None
    critical: bool = False
    alert_low: Decimal | None = None
    alert_high: Decimal | None = None


@dataclass(frozen=True)
class Step:
    id: str
    name: str
    instruction: str
    kind: StepKind | None
    parameters: tuple[ProcessParameter, ...] = ()
    requires_verification: bool = False
    parallel_allowed: bool = False


@dataclass(frozen=True)
class Operation:
    id: str
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class UnitProcedure:
    id: str
    name: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class RecipeContent:
    """What an author writes: the parts of a record a draft update may change."""

    product: str
    process: str
    title: str
    unit_procedures: tuple[UnitProcedure, ...]


@dataclass(frozen=True)
class MasterBatchRecord:
    record_id: str
    version: int
    home_site: str
    content: RecipeContent
    state: MbrState
    author: str
    create_time: datetime
    update_time: datetime
    revision: int = 1
    signatures: tuple[SignatureRecord, ...] = ()
    effective_time: datetime | None = None
    supersedes: str = ""
    superseded_by: str = ""

    @property
    def key(self) -> str:
        return version_key(self.record_id, self.version)

    @property
    def name(self) -> str:
        return f"masterBatchRecords/{self.record_id}/versions/{self.version}"

    @property
    def etag(self) -> str:
        return f"{self.version}-{self.revision}"

    def current_round(self) -> tuple[SignatureRecord, ...]:
        """Signatures since the record was last sent back to draft."""
        rejected = [
            index for index, signature in enumerate(self.signatures)
            if signature.meaning == SignatureMeaning.REJECTED
        ]
        return self.signatures[rejected[-1] + 1 :] if rejected else self.signatures

    def reviewer(self) -> str | None:
        for signature in self.current_round():
            if signature.meaning == SignatureMeaning.REVIEWED:
                return signature.signer
        return None


# --- validation ---------------------------------------------------------------------------

def parse_decimal(text: str, path: str, violations: Violations) -> Decimal | None:
    if text == "":
        return None
    return bounds.decimal(path, text, violations)


def validate_content(content: RecipeContent, prefix: str = "master_batch_record") -> None:
    """Raises InvalidArgument listing every problem of a recipe, by field path."""
    violations = Violations()
    for name in ("product", "process", "title"):
        value = getattr(content, name)
        bounds.text(f"{prefix}.{name}", value, bounds.NAME_LEN, violations, required=True)
    bounds.list_len(
        f"{prefix}.unit_procedures", content.unit_procedures, bounds.RECIPE_NODES, violations
    )
    if not content.unit_procedures:
        violations.add(f"{prefix}.unit_procedures", "at least one unit procedure is required")
    step_ids: set[str] = set()
    for u, unit_procedure in enumerate(content.unit_procedures):
        up_path = f"{prefix}.unit_procedures[{u}]"
        _check_node(unit_procedure.id, unit_procedure.name, up_path, violations)
        bounds.list_len(
            f"{up_path}.operations", unit_procedure.operations, bounds.RECIPE_NODES, violations
        )
        if not unit_procedure.operations:
            violations.add(f"{up_path}.operations", "at least one operation is required")
        for o, operation in enumerate(unit_procedure.operations):
            op_path = f"{up_path}.operations[{o}]"
            _check_node(operation.id, operation.name, op_path, violations)
            bounds.list_len(
                f"{op_path}.steps", operation.steps, bounds.STEPS_PER_OPERATION, violations
            )
            if not operation.steps:
                violations.add(f"{op_path}.steps", "at least one step is required")
            for s, step in enumerate(operation.steps):
                step_path = f"{op_path}.steps[{s}]"
                _check_step(step, step_path, step_ids, violations)
    violations.raise_if_any()


def _check_node(node_id: str, name: str, path: str, violations: Violations) -> None:
    if not STEP_ID.fullmatch(node_id):
        violations.add(f"{path}.id", "is required: letters, digits, '.', '_' or '-'")
    bounds.text(f"{path}.name", name, bounds.NAME_LEN, violations, required=True)


def _check_step(step: Step, path: str, seen: set[str], violations: Violations) -> None:
    _check_node(step.id, step.name, path, violations)
    if step.id in seen:
        violations.add(f"{path}.id", f"step id {step.id!r} is used twice in the record")
    seen.add(step.id)
    bounds.text(f"{path}.instruction", step.instruction, bounds.TEXT_LEN, violations,
                required=True)
    bounds.list_len(f"{path}.parameters", step.parameters, bounds.PARAMETERS_PER_STEP, violations)
    if step.kind is None:
        violations.add(f"{path}.kind", "is required")
    if step.kind == StepKind.PROCESS_PARAMETER and not step.parameters:
        violations.add(f"{path}.parameters", "a process parameter step needs a parameter")
    names: set[str] = set()
    for p, parameter in enumerate(step.parameters):
        _check_parameter(parameter, f"{path}.parameters[{p}]", names, violations)


def _check_parameter(
    parameter: ProcessParameter, path: str, names: set[str], violations: Violations
) -> None:
    named = bounds.text(f"{path}.name", parameter.name, bounds.NAME_LEN, violations,
                        required=True)
    if named and parameter.name in names:
        violations.add(f"{path}.name", f"parameter {parameter.name!r} appears twice in the step")
    names.add(parameter.name)
    if not parameter.unit.strip():
        violations.add(f"{path}.unit", "is required: a UCUM unit code such as 'Cel' or 'mg/mL'")
    elif len(parameter.unit) > UNIT_LEN or not is_ucum(parameter.unit):
        violations.add(
            f"{path}.unit",
            f"{parameter.unit!r} is not a UCUM unit code (e.g. 'Cel', 'mg/mL', '/min')",
        )
    low, high = parameter.low_limit, parameter.high_limit
    if low is not None and high is not None and low > high:
        violations.add(f"{path}.low_limit", "is above high_limit")
    if parameter.target is not None:
        if low is not None and parameter.target < low:
            violations.add(f"{path}.target", "is below low_limit")
        if high is not None and parameter.target > high:
            violations.add(f"{path}.target", "is above high_limit")
    if parameter.critical and low is None and high is None:
        violations.add(f"{path}.critical", "a critical process parameter needs a limit")
    if parameter.alert_low is not None and low is not None and parameter.alert_low < low:
        violations.add(f"{path}.alert_low", "is outside the limits")
    if parameter.alert_high is not None and high is not None and parameter.alert_high > high:
        violations.add(f"{path}.alert_high", "is outside the limits")


# --- lifecycle ----------------------------------------------------------------------------

def _check_etag(record: MasterBatchRecord, etag: str) -> None:
    if etag and etag != record.etag:
        raise Aborted(
            "ETAG_MISMATCH",
            f"{record.name} changed since it was read (etag {etag!r}, now {record.etag!r})",
            name=record.name, currentEtag=record.etag,
        )
    if not etag:
        raise InvalidArgument([FieldViolation("etag", "is required")])


def _require_state(record: MasterBatchRecord, *allowed: MbrState, action: str) -> None:
    if record.state not in allowed:
        raise FailedPrecondition(
            "INVALID_STATE",
            f"cannot {action} {record.name}: it is {record.state.value}, "
            f"not {' or '.join(state.value for state in allowed)}",
            name=record.name, state=record.state.value,
        )


def create_draft(
    *, record_id: str, home_site: str, content: RecipeContent, author: str, now: datetime
) -> MasterBatchRecord:
    validate_content(content)
    return MasterBatchRecord(
        record_id=record_id, version=1, home_site=home_site, content=content,
        state=MbrState.DRAFT, author=author, create_time=now, update_time=now,
    )


def new_version(
    latest: MasterBatchRecord, *, author: str, now: datetime
) -> MasterBatchRecord:
    """The next version of a record, as a draft copied from its latest version."""
    if latest.state in (MbrState.DRAFT, MbrState.IN_REVIEW):
        raise FailedPrecondition(
            "OPEN_VERSION_EXISTS",
            f"{latest.name} is still {latest.state.value}; finish it before a new version",
            name=latest.name,
        )
    return MasterBatchRecord(
        record_id=latest.record_id, version=latest.version + 1, home_site=latest.home_site,
        content=latest.content, state=MbrState.DRAFT, author=author, create_time=now,
        update_time=now, supersedes=latest.name,
    )


def update_draft(
    record: MasterBatchRecord, *, content: RecipeContent, paths: frozenset[str], etag: str,
    now: datetime,
) -> MasterBatchRecord:
    unknown = sorted(paths - UPDATABLE_PATHS)
    if not paths or unknown:
        raise InvalidArgument(
            [FieldViolation("update_mask", f"paths must be among {sorted(UPDATABLE_PATHS)}"
                            + (f"; not {unknown}" if unknown else ""))]
        )
    _check_etag(record, etag)
    _require_state(record, MbrState.DRAFT, action="update")
    merged = replace(
        record.content, **{path: getattr(content, path) for path in paths}
    )
    validate_content(merged)
    return replace(record, content=merged, update_time=now, revision=record.revision + 1)


def submit_for_review(
    record: MasterBatchRecord, *, etag: str, now: datetime
) -> MasterBatchRecord:
    _check_etag(record, etag)
    _require_state(record, MbrState.DRAFT, action="submit")
    return replace(record, state=MbrState.IN_REVIEW, update_time=now, revision=record.revision + 1)


def _require_not_author(record: MasterBatchRecord, signature: SignatureRecord, what: str) -> None:
    if signature.signer == record.author:
        raise PermissionDenied(
            "AUTHOR_CANNOT_SIGN",
            f"the author of {record.name} cannot {what} it (four eyes)",
            name=record.name, signer=signature.signer,
        )


def review(
    record: MasterBatchRecord, *, signature: SignatureRecord, etag: str, now: datetime
) -> MasterBatchRecord:
    _check_etag(record, etag)
    _require_state(record, MbrState.IN_REVIEW, action="review")
    _require_not_author(record, signature, "review")
    if record.reviewer() is not None:
        raise FailedPrecondition(
            "ALREADY_REVIEWED", f"{record.name} is already reviewed", name=record.name
        )
    return _signed(record, signature, now)


def approve(
    record: MasterBatchRecord, *, signature: SignatureRecord, etag: str, now: datetime
) -> MasterBatchRecord:
    _check_etag(record, etag)
    _require_state(record, MbrState.IN_REVIEW, action="approve")
    _require_not_author(record, signature, "approve")
    reviewer = record.reviewer()
    if reviewer is None:
        raise FailedPrecondition(
            "REVIEW_REQUIRED", f"{record.name} must be reviewed before approval",
            name=record.name,
        )
    if reviewer == signature.signer:
        raise PermissionDenied(
            "REVIEWER_CANNOT_APPROVE",
            f"the reviewer of {record.name} cannot also approve it (four eyes)",
            name=record.name, signer=signature.signer,
        )
    return replace(_signed(record, signature, now), state=MbrState.APPROVED)


def reject(
    record: MasterBatchRecord, *, signature: SignatureRecord, etag: str, now: datetime
) -> MasterBatchRecord:
    if not signature.reason.strip():
        raise InvalidArgument([FieldViolation("signature.reason", "a rejection needs a reason")])
    _check_etag(record, etag)
    _require_state(record, MbrState.IN_REVIEW, action="reject")
    _require_not_author(record, signature, "reject")
    return replace(_signed(record, signature, now), state=MbrState.DRAFT)


def make_effective(
    record: MasterBatchRecord, *, signature: SignatureRecord, etag: str, site: str,
    current: MasterBatchRecord | None, now: datetime,
) -> tuple[MasterBatchRecord, MasterBatchRecord | None]:
    """The record made effective, and the version it supersedes (if any)."""
    _check_etag(record, etag)
    _require_state(record, MbrState.APPROVED, action="make effective")
    if record.home_site != site:
        raise PermissionDenied(
            "NOT_HOME_SITE", f"{record.name} can be made effective only at {record.home_site}",
            name=record.name, homeSite=record.home_site,
        )
    if current is not None and current.version > record.version:
        raise FailedPrecondition(
            "NEWER_VERSION_EFFECTIVE",
            f"{current.name} is effective and newer than {record.name}", name=record.name,
        )
    effective = replace(
        _signed(record, signature, now), state=MbrState.EFFECTIVE, effective_time=now,
    )
    if current is None:
        return effective, None
    superseded = replace(
        current, state=MbrState.SUPERSEDED, superseded_by=record.name, update_time=now,
        revision=current.revision + 1,
    )
    return effective, superseded


def _signed(
    record: MasterBatchRecord, signature: SignatureRecord, now: datetime
) -> MasterBatchRecord:
    return replace(
        record, signatures=(*record.signatures, signature), update_time=now,
        revision=record.revision + 1,
    )


@dataclass(frozen=True)
class ListFilter:
    state: MbrState | None = None
    product: str = ""
    record_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)
