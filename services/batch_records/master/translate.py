"""Protobuf ⇄ domain for master batch records: the one place the two shapes meet."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from twinline.batchrecords.v1 import master_batch_record_pb2 as pb

from services.batch_records.master.domain import (
    MasterBatchRecord,
    MbrState,
    Operation,
    ProcessParameter,
    RecipeContent,
    Step,
    StepKind,
    UnitProcedure,
    parse_decimal,
)
from services.batch_records.proto_forms import ProtoForms
from services.common.domain.errors import Violations
from services.common.grpc.translate import (
    signature_from_proto,
    signature_to_proto,
    timestamp,
)

STATE_TO_PROTO = {
    state: pb.MasterBatchRecordState.Value(f"MASTER_BATCH_RECORD_STATE_{state.name}")
    for state in MbrState
}
STATE_FROM_PROTO = {value: state for state, value in STATE_TO_PROTO.items()}
KIND_TO_PROTO = {kind: pb.StepKind.Value(f"STEP_KIND_{kind.name}") for kind in StepKind}
KIND_FROM_PROTO = {value: kind for kind, value in KIND_TO_PROTO.items()}


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def content_to_proto(content: RecipeContent, target: pb.MasterBatchRecord) -> None:
    target.product, target.process, target.title = content.product, content.process, content.title
    del target.unit_procedures[:]
    for unit_procedure in content.unit_procedures:
        target.unit_procedures.append(
            pb.UnitProcedure(
                id=unit_procedure.id, name=unit_procedure.name,
                operations=[
                    pb.Operation(
                        id=operation.id, name=operation.name,
                        steps=[_step_to_proto(step) for step in operation.steps],
                    )
                    for operation in unit_procedure.operations
                ],
            )
        )


def _step_to_proto(step: Step) -> pb.Step:
    return pb.Step(
        id=step.id, name=step.name, instruction=step.instruction,
        kind=KIND_TO_PROTO[step.kind] if step.kind else pb.STEP_KIND_UNSPECIFIED,
        requires_verification=step.requires_verification,
        parallel_allowed=step.parallel_allowed,
        parameters=[
            pb.ProcessParameter(
                name=parameter.name, unit=parameter.unit, target=_text(parameter.target),
                low_limit=_text(parameter.low_limit), high_limit=_text(parameter.high_limit),
                critical=parameter.critical, alert_low=_text(parameter.alert_low),
                alert_high=_text(parameter.alert_high),
            )
            for parameter in step.parameters
        ],
    )


def content_from_proto(
    record: pb.MasterBatchRecord, prefix: str = "master_batch_record"
) -> RecipeContent:
    """The recipe of a request; unparseable numbers are raised as field violations together."""
    violations = Violations()
    unit_procedures = tuple(
        UnitProcedure(
            id=unit_procedure.id, name=unit_procedure.name,
            operations=tuple(
                Operation(
                    id=operation.id, name=operation.name,
                    steps=tuple(
                        _step_from_proto(
                            step,
                            f"{prefix}.unit_procedures[{u}].operations[{o}].steps[{s}]",
                            violations,
                        )
                        for s, step in enumerate(operation.steps)
                    ),
                )
                for o, operation in enumerate(unit_procedure.operations)
            ),
        )
        for u, unit_procedure in enumerate(record.unit_procedures)
    )
    violations.raise_if_any()
    return RecipeContent(
        product=record.product, process=record.process, title=record.title,
        unit_procedures=unit_procedures,
    )


def _step_from_proto(step: pb.Step, path: str, violations: Violations) -> Step:
    parameters = []
    for p, parameter in enumerate(step.parameters):
        at = f"{path}.parameters[{p}]"
        parameters.append(
            ProcessParameter(
                name=parameter.name, unit=parameter.unit,
                target=parse_decimal(parameter.target, f"{at}.target", violations),
                low_limit=parse_decimal(parameter.low_limit, f"{at}.low_limit", violations),
                high_limit=parse_decimal(parameter.high_limit, f"{at}.high_limit", violations),
                critical=parameter.critical,
                alert_low=parse_decimal(parameter.alert_low, f"{at}.alert_low", violations),
                alert_high=parse_decimal(parameter.alert_high, f"{at}.alert_high", violations),
            )
        )
    return Step(
        id=step.id, name=step.name, instruction=step.instruction,
        kind=KIND_FROM_PROTO.get(step.kind), parameters=tuple(parameters),
        requires_verification=step.requires_verification,
        parallel_allowed=step.parallel_allowed,
    )


def _record_to_proto(record: MasterBatchRecord) -> pb.MasterBatchRecord:
    message = pb.MasterBatchRecord(
        name=record.name, record_id=record.record_id, version=record.version,
        home_site=record.home_site, state=STATE_TO_PROTO[record.state], author=record.author,
        signatures=[signature_to_proto(signature) for signature in record.signatures],
        create_time=timestamp(record.create_time), update_time=timestamp(record.update_time),
        effective_time=timestamp(record.effective_time), etag=record.etag,
        supersedes=record.supersedes, superseded_by=record.superseded_by,
    )
    content_to_proto(record.content, message)
    return message


# A record's form, made once: what the use case stores and announces, the servicer answers.
record_to_proto = ProtoForms(_record_to_proto)


def record_from_proto(message: pb.MasterBatchRecord) -> MasterBatchRecord:
    """A stored record back to the domain (the proto is the stored form)."""
    revision = int(message.etag.split("-")[1])
    record = MasterBatchRecord(
        record_id=message.record_id, version=message.version, home_site=message.home_site,
        content=content_from_proto(message), state=STATE_FROM_PROTO[message.state],
        author=message.author, create_time=message.create_time.ToDatetime(tzinfo=UTC),
        update_time=message.update_time.ToDatetime(tzinfo=UTC), revision=revision,
        signatures=tuple(signature_from_proto(signature) for signature in message.signatures),
        effective_time=(
            message.effective_time.ToDatetime(tzinfo=UTC)
            if message.HasField("effective_time") else None
        ),
        supersedes=message.supersedes, superseded_by=message.superseded_by,
    )
    record_to_proto.remember(record, message)
    return record

