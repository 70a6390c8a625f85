"""Executed batch record use cases: load, decide in the domain, save with audit entry and event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf import json_format, message
from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import equipment_service_pb2 as equipment_pb
from twinline.events.v1 import batch_events_pb2 as events

from services.batch_records.batches import domain
from services.batch_records.batches import repository as batch_repository
from services.batch_records.batches.domain import Batch, BatchException, Quantity, StepRecord
from services.batch_records.batches.names import batch_id_for
from services.batch_records.batches.translate import batch_to_proto
from services.batch_records.master import repository
from services.batch_records.master.names import version_key
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.persistence.audit import canonical_json
from services.common.persistence.unit_of_work import UnitOfWork

CONTEXT, AGGREGATE, SERVICE = "batchrecords", "batch", "batch_records"


@dataclass(frozen=True)
class Saved:
    """A batch as stored, with the exceptions the change raised."""

    batch: pb.Batch
    raised: tuple[BatchException, ...] = ()


def _state_json(stored: pb.Batch | None) -> str:
    """What the audit trail records of a batch: everything but the frozen control recipe."""
    if stored is None:
        return ""
    shown = pb.Batch()
    shown.CopyFrom(stored)
    shown.ClearField("control_recipe")
    return canonical_json(json_format.MessageToDict(shown))


def _save(
    uow: UnitOfWork, *, actor: str, event: str, before: pb.Batch | None, after: Batch,
    payload: type[message.Message], reason: str = "", year: int = 0, number: int = 0,
    **payload_fields: object,
) -> pb.Batch:
    stored = batch_to_proto(after)
    if before is None:
        batch_repository.add(uow.session, after, stored, year=year, number=number)
    else:
        batch_repository.replace(uow.session, after, stored)
    uow.record_change(
        actor=actor, service=SERVICE, context=CONTEXT, aggregate=AGGREGATE, event=event,
        aggregate_id=after.batch_id, resource_name=after.name, old_value=_state_json(before),
        new_value=_state_json(stored),
        payload=payload(batch=_announced(stored, event), **payload_fields), reason=reason,
    )
    return stored


def _announced(stored: pb.Batch, event: str) -> pb.Batch:
    """The batch as its event carries it (decision 0008): the frozen control recipe goes out
    once, with "created"; later events name it (``master_batch_record``) and carry the rest,
    so a batch's events grow with its execution, never with its recipe twice over."""
    if event == "created":
        return stored
    announced = pb.Batch()
    announced.CopyFrom(stored)
    announced.ClearField("control_recipe")
    return announced


def _load(uow: UnitOfWork, batch_id: str) -> tuple[Batch, pb.Batch]:
    return batch_repository.get_stored(uow.session, batch_id)


def create(
    uow: UnitOfWork, *, principal: Principal, site_code: str, record_id: str, version: int,
    planned_quantity: Quantity | None,
) -> Saved:
    recipe = repository.get(uow.session, version_key(record_id, version))
    year = uow.now.year
    number = batch_repository.next_number(uow.session, year, uow.group_memo)
    batch = domain.create_batch(
        batch_id=batch_id_for(site_code, year, number), recipe=recipe, site=uow.site,
        created_by=principal.username, now=uow.now, planned_quantity=planned_quantity,
    )
    return Saved(_save(uow, actor=principal.username, event="created", before=None, after=batch,
                       payload=events.BatchCreated, year=year, number=number))


def record_steps(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, records: Sequence[StepRecord],
    signature: SignatureRecord,
) -> Saved:
    batch, before = _load(uow, batch_id)
    equipment_ids = sorted({use[0] for record in records for use in record.equipment})
    after, raised = domain.record_steps(
        batch, records, signature=signature,
        equipment_status=batch_repository.equipment_status(uow.session, equipment_ids),
        now=uow.now,
    )
    step_ids = [record.step_id for record in records]
    stored = _save(uow, actor=principal.username, event="step_recorded", before=before,
                   after=after, payload=events.BatchStepRecorded, step_ids=step_ids)
    return Saved(stored, tuple(raised))


def verify_step(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, step_id: str,
    signature: SignatureRecord,
) -> Saved:
    batch, before = _load(uow, batch_id)
    after = domain.verify_step(batch, step_id, signature=signature, now=uow.now)
    return Saved(_save(uow, actor=principal.username, event="step_verified", before=before,
                       after=after, payload=events.BatchStepVerified, step_id=step_id))


def correct_value(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, step_id: str, parameter: str,
    corrected: Quantity, signature: SignatureRecord,
) -> Saved:
    batch, before = _load(uow, batch_id)
    after, raised = domain.correct_value(
        batch, step_id, parameter, corrected, signature=signature, now=uow.now
    )
    stored = _save(uow, actor=principal.username, event="value_corrected", before=before,
                   after=after, payload=events.BatchValueCorrected, reason=signature.reason,
                   step_id=step_id, parameter=parameter)
    return Saved(stored, tuple(raised))


def disposition_exception(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, exception_id: str,
    signature: SignatureRecord,
) -> Saved:
    batch, before = _load(uow, batch_id)
    after = domain.disposition_exception(batch, exception_id, signature=signature, now=uow.now)
    return Saved(_save(uow, actor=principal.username, event="exception_dispositioned",
                       before=before, after=after, payload=events.BatchExceptionDispositioned,
                       reason=signature.reason, exception_id=exception_id))


def raise_deviation(
    uow: UnitOfWork, *, principal: Principal, batch_id: str,
    classification: domain.Severity | None, title: str, description: str,
    exception_ids: Sequence[str],
) -> tuple[Saved, domain.Deviation]:
    batch, before = _load(uow, batch_id)
    after, deviation = domain.raise_deviation(
        batch, classification=classification, title=title, description=description,
        exception_ids=exception_ids, raised_by=principal.username, now=uow.now,
    )
    stored = _save(uow, actor=principal.username, event="deviation_raised", before=before,
                   after=after, payload=events.BatchDeviationChanged, deviation_id=deviation.id)
    return Saved(stored), deviation


def update_deviation(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, deviation_id: str,
    investigation: str, capa_reference: str,
) -> Saved:
    batch, before = _load(uow, batch_id)
    after = domain.update_deviation(
        batch, deviation_id, investigation=investigation, capa_reference=capa_reference,
        now=uow.now,
    )
    return Saved(_save(uow, actor=principal.username, event="deviation_updated", before=before,
                       after=after, payload=events.BatchDeviationChanged,
                       deviation_id=deviation_id))


def close_deviation(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, deviation_id: str,
    signature: SignatureRecord,
) -> Saved:
    batch, before = _load(uow, batch_id)
    after = domain.close_deviation(batch, deviation_id, signature=signature, now=uow.now)
    return Saved(_save(uow, actor=principal.username, event="deviation_closed", before=before,
                       after=after, payload=events.BatchDeviationChanged,
                       reason=signature.reason, deviation_id=deviation_id))


def complete(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, signature: SignatureRecord
) -> Saved:
    batch, before = _load(uow, batch_id)
    after, raised = domain.complete(batch, signature=signature, now=uow.now)
    stored = _save(uow, actor=principal.username, event="completed", before=before,
                   after=after, payload=events.BatchStateChanged, reason=signature.reason)
    return Saved(stored, tuple(raised))


def submit_for_review(uow: UnitOfWork, *, principal: Principal, batch_id: str) -> Saved:
    batch, before = _load(uow, batch_id)
    after = domain.submit_for_review(batch, now=uow.now)
    return Saved(_save(uow, actor=principal.username, event="submitted", before=before,
                       after=after, payload=events.BatchStateChanged))


def approve(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, signature: SignatureRecord
) -> Saved:
    batch, before = _load(uow, batch_id)
    after = domain.approve(batch, signature=signature, now=uow.now)
    return Saved(_save(uow, actor=principal.username, event="approved", before=before,
                       after=after, payload=events.BatchStateChanged, reason=signature.reason))


def reject(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, signature: SignatureRecord
) -> Saved:
    batch, before = _load(uow, batch_id)
    after = domain.reject(batch, signature=signature, now=uow.now)
    return Saved(_save(uow, actor=principal.username, event="rejected", before=before,
                       after=after, payload=events.BatchStateChanged, reason=signature.reason))


def set_equipment(
    uow: UnitOfWork, *, principal: Principal, equipment: equipment_pb.Equipment
) -> equipment_pb.Equipment:
    status = equipment_pb.EquipmentStatus.Name(equipment.status).removeprefix("EQUIPMENT_STATUS_")
    before = dict(
        (row[0], row) for row in batch_repository.list_equipment(uow.session)
    ).get(equipment.equipment_id)
    batch_repository.set_equipment(
        uow.session, equipment.equipment_id, equipment.description, status
    )
    uow.record_change(
        actor=principal.username, service=SERVICE, context=CONTEXT, aggregate="equipment",
        event="set", aggregate_id=equipment.equipment_id,
        resource_name=f"equipment/{equipment.equipment_id}",
        old_value=canonical_json(list(before)) if before else "",
        new_value=canonical_json([equipment.equipment_id, equipment.description, status]),
        payload=events.EquipmentSet(equipment=equipment),
    )
    return equipment
