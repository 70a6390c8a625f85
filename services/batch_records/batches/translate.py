"""Protobuf ⇄ domain for executed batch records."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.common.v1 import quantity_pb2

from services.batch_records.batches.domain import (
    Batch,
    BatchDisposition,
    BatchException,
    BatchState,
    Deviation,
    DeviationState,
    DispositionDecision,
    EquipmentUse,
    ExceptionKind,
    MaterialAddition,
    ParameterValue,
    Quantity,
    Severity,
    StepExecution,
    StepRecord,
    StepStatus,
    ValueCorrection,
)
from services.batch_records.master.domain import MasterBatchRecord
from services.batch_records.master.translate import record_from_proto, record_to_proto
from services.batch_records.proto_forms import ProtoForms
from services.common.domain import bounds
from services.common.domain.errors import Violations
from services.common.grpc.translate import (
    enum_map,
    moment,
    signature_from_proto,
    signature_to_proto,
    timestamp,
)

STATE_TO_PROTO = enum_map(BatchState, pb.BatchState, "BATCH_STATE")
STATE_FROM_PROTO = {value: state for state, value in STATE_TO_PROTO.items()}
STATUS_TO_PROTO = enum_map(StepStatus, pb.StepStatus, "STEP_STATUS")
STATUS_FROM_PROTO = {value: status for status, value in STATUS_TO_PROTO.items()}
KIND_TO_PROTO = enum_map(ExceptionKind, pb.ExceptionKind, "EXCEPTION_KIND")
KIND_FROM_PROTO = {value: kind for kind, value in KIND_TO_PROTO.items()}
SEVERITY_TO_PROTO = enum_map(Severity, pb.Severity, "SEVERITY")
SEVERITY_FROM_PROTO = {value: severity for severity, value in SEVERITY_TO_PROTO.items()}
DEVIATION_TO_PROTO = enum_map(DeviationState, pb.DeviationState, "DEVIATION_STATE")
DEVIATION_FROM_PROTO = {value: state for state, value in DEVIATION_TO_PROTO.items()}
DECISION_TO_PROTO = enum_map(DispositionDecision, pb.BatchDispositionDecision,
                             "BATCH_DISPOSITION_DECISION")
DECISION_FROM_PROTO = {value: decision for decision, value in DECISION_TO_PROTO.items()}


def quantity_to_proto(quantity: Quantity) -> quantity_pb2.Quantity:
    return quantity_pb2.Quantity(value=str(quantity.value), unit=quantity.unit)


def quantity_from_proto(
    message: quantity_pb2.Quantity, path: str, violations: Violations
) -> Quantity:
    """A quantity of a request; a bad number or a missing unit is a field violation."""
    value = bounds.decimal(f"{path}.value", message.value, violations)
    if bounds.text(f"{path}.unit", message.unit, bounds.ID_LEN, violations) and not (
        message.unit.strip()
    ):
        violations.add(f"{path}.unit", "is required (a UCUM code)")
    return Quantity(Decimal(0) if value is None else value, message.unit)


def _stored_quantity(message: quantity_pb2.Quantity) -> Quantity:
    return Quantity(Decimal(message.value), message.unit)


def step_record_from_proto(
    message: api.StepRecordInput, path: str, violations: Violations
) -> StepRecord:
    if not message.step_id:
        violations.add(f"{path}.step_id", "is required")
    return StepRecord(
        step_id=message.step_id,
        parameter_values=tuple(
            (value.name, quantity_from_proto(value.value, f"{path}.parameter_values[{i}].value",
                                             violations))
            for i, value in enumerate(message.parameter_values)
        ),
        materials=tuple(
            MaterialAddition(
                material.material, material.lot_id,
                quantity_from_proto(material.quantity, f"{path}.materials[{i}].quantity",
                                    violations),
            )
            for i, material in enumerate(message.materials)
        ),
        equipment=tuple((use.equipment_id, use.override_reason) for use in message.equipment),
        comment=message.comment,
        perform_time=bounds.timestamp(
            f"{path}.perform_time", message.perform_time.seconds, message.perform_time.nanos,
            violations,
        ) if message.HasField("perform_time") else None,
        performed_by=message.performed_by,
    )


def _step_to_proto(step: StepExecution) -> pb.StepExecution:
    return pb.StepExecution(
        step_id=step.step_id, status=STATUS_TO_PROTO[step.status],
        parameter_values=[
            pb.ParameterValue(
                name=value.name, value=quantity_to_proto(value.value),
                corrections=[
                    pb.ValueCorrection(
                        previous_value=quantity_to_proto(c.previous),
                        corrected_value=quantity_to_proto(c.corrected),
                        signature=signature_to_proto(c.signature),
                    )
                    for c in value.corrections
                ],
            )
            for value in step.parameter_values
        ],
        materials=[
            pb.MaterialAddition(material=m.material, lot_id=m.lot_id,
                                quantity=quantity_to_proto(m.quantity))
            for m in step.materials
        ],
        equipment=[
            pb.EquipmentUse(equipment_id=u.equipment_id, status_at_use=u.status_at_use,
                            override_reason=u.override_reason)
            for u in step.equipment
        ],
        comment=step.comment, perform_time=timestamp(step.perform_time),
        record_time=timestamp(step.record_time),
        executed=signature_to_proto(step.executed) if step.executed else None,
        verified=signature_to_proto(step.verified) if step.verified else None,
        performed_by=step.performed_by,
    )


def _step_from_proto(message: pb.StepExecution) -> StepExecution:
    return StepExecution(
        step_id=message.step_id, status=STATUS_FROM_PROTO[message.status],
        parameter_values=tuple(
            ParameterValue(
                value.name, _stored_quantity(value.value),
                tuple(
                    ValueCorrection(_stored_quantity(c.previous_value),
                                    _stored_quantity(c.corrected_value),
                                    signature_from_proto(c.signature))
                    for c in value.corrections
                ),
            )
            for value in message.parameter_values
        ),
        materials=tuple(
            MaterialAddition(m.material, m.lot_id, _stored_quantity(m.quantity))
            for m in message.materials
        ),
        equipment=tuple(
            EquipmentUse(u.equipment_id, u.status_at_use, u.override_reason)
            for u in message.equipment
        ),
        comment=message.comment,
        perform_time=moment(message.perform_time) if message.HasField("perform_time") else None,
        record_time=moment(message.record_time) if message.HasField("record_time") else None,
        executed=signature_from_proto(message.executed) if message.HasField("executed") else None,
        verified=signature_from_proto(message.verified) if message.HasField("verified") else None,
        performed_by=message.performed_by,
    )


def exception_to_proto(exception: BatchException) -> pb.BatchException:
    return pb.BatchException(
        id=exception.id, kind=KIND_TO_PROTO[exception.kind],
        severity=SEVERITY_TO_PROTO[exception.severity], step_id=exception.step_id,
        description=exception.description, raise_time=timestamp(exception.raise_time),
        disposition=signature_to_proto(exception.disposition) if exception.disposition else None,
        proposed_disposition=(
            signature_to_proto(exception.proposed_disposition)
            if exception.proposed_disposition else None
        ),
        source=exception.source,
    )


def _exception_from_proto(message: pb.BatchException) -> BatchException:
    return BatchException(
        id=message.id, kind=KIND_FROM_PROTO[message.kind],
        severity=SEVERITY_FROM_PROTO[message.severity], step_id=message.step_id,
        description=message.description, raise_time=moment(message.raise_time),
        disposition=(
            signature_from_proto(message.disposition) if message.HasField("disposition") else None
        ),
        proposed_disposition=(
            signature_from_proto(message.proposed_disposition)
            if message.HasField("proposed_disposition") else None
        ),
        source=message.source,
    )


def deviation_to_proto(deviation: Deviation) -> pb.Deviation:
    return pb.Deviation(
        id=deviation.id, classification=SEVERITY_TO_PROTO[deviation.classification],
        title=deviation.title, description=deviation.description,
        exception_ids=list(deviation.exception_ids), investigation=deviation.investigation,
        capa_reference=deviation.capa_reference, state=DEVIATION_TO_PROTO[deviation.state],
        raised_by=deviation.raised_by, raise_time=timestamp(deviation.raise_time),
        closure=signature_to_proto(deviation.closure) if deviation.closure else None,
    )


def _deviation_from_proto(message: pb.Deviation) -> Deviation:
    return Deviation(
        id=message.id, classification=SEVERITY_FROM_PROTO[message.classification],
        title=message.title, description=message.description,
        exception_ids=tuple(message.exception_ids), raised_by=message.raised_by,
        raise_time=moment(message.raise_time), investigation=message.investigation,
        capa_reference=message.capa_reference, state=DEVIATION_FROM_PROTO[message.state],
        closure=signature_from_proto(message.closure) if message.HasField("closure") else None,
    )


# A control recipe is a frozen copy: one master record version, same etag, same content.
# Its two forms are kept for the batches that follow it rather than rebuilt on every write.
_RECIPES_LIMIT = 256
V = TypeVar("V")
_recipe_protos: dict[tuple[str, str], mbr_pb.MasterBatchRecord] = {}
_recipe_records: dict[tuple[str, str], MasterBatchRecord] = {}


def _cached(cache: dict[tuple[str, str], V], key: tuple[str, str], make: Callable[[], V]) -> V:
    """The value kept under ``key``, made (and kept) on first use."""
    found = cache.get(key)
    if found is None:
        if len(cache) >= _RECIPES_LIMIT:
            cache.clear()
        found = cache[key] = make()
    return found


def _recipe_proto(recipe: MasterBatchRecord) -> mbr_pb.MasterBatchRecord:
    return _cached(_recipe_protos, (recipe.name, recipe.etag), lambda: record_to_proto(recipe))


def _recipe_record(message: mbr_pb.MasterBatchRecord) -> MasterBatchRecord:
    return _cached(
        _recipe_records, (message.name, message.etag), lambda: record_from_proto(message)
    )


def _batch_to_proto(batch: Batch) -> pb.Batch:
    return pb.Batch(
        name=batch.name, batch_id=batch.batch_id, home_site=batch.home_site,
        master_batch_record=batch.recipe.name, control_recipe=_recipe_proto(batch.recipe),
        state=STATE_TO_PROTO[batch.state],
        planned_quantity=(
            quantity_to_proto(batch.planned_quantity) if batch.planned_quantity else None
        ),
        steps=[_step_to_proto(step) for step in batch.steps],
        exceptions=[exception_to_proto(exception) for exception in batch.exceptions],
        deviations=[deviation_to_proto(deviation) for deviation in batch.deviations],
        signatures=[signature_to_proto(signature) for signature in batch.signatures],
        created_by=batch.created_by, create_time=timestamp(batch.create_time),
        update_time=timestamp(batch.update_time), etag=batch.etag,
        dispositions=[pb.BatchDisposition(
            name=d.name, decision=DECISION_TO_PROTO[d.decision],
            signature=signature_to_proto(d.signature)) for d in batch.dispositions],
    )


# A batch's form, made once: what the use case stores and announces, the servicer answers.
batch_to_proto = ProtoForms(_batch_to_proto)


def batch_from_proto(message: pb.Batch) -> Batch:
    """A stored batch back to the domain (the proto is the stored form)."""
    batch = Batch(
        batch_id=message.batch_id, home_site=message.home_site,
        recipe=_recipe_record(message.control_recipe),
        state=STATE_FROM_PROTO[message.state],
        steps=tuple(_step_from_proto(step) for step in message.steps),
        created_by=message.created_by, create_time=moment(message.create_time),
        update_time=moment(message.update_time),
        planned_quantity=(
            _stored_quantity(message.planned_quantity)
            if message.HasField("planned_quantity") else None
        ),
        exceptions=tuple(_exception_from_proto(e) for e in message.exceptions),
        deviations=tuple(_deviation_from_proto(d) for d in message.deviations),
        signatures=tuple(signature_from_proto(s) for s in message.signatures),
        revision=int(message.etag),
        dispositions=tuple(
            BatchDisposition(d.name, DECISION_FROM_PROTO[d.decision],
                             signature_from_proto(d.signature))
            for d in message.dispositions),
    )
    batch_to_proto.remember(batch, message)
    return batch
