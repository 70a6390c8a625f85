"""Executed batch record use cases: load, decide in the domain, save with audit entry and event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from twinline.batchrecords.v1 import batch_pb2 as pb

from services.batch_records.batches import domain, events, repository
from services.batch_records.batches.domain import Batch, BatchException, Quantity, StepRecord
from services.batch_records.batches.names import batch_id_for
from services.batch_records.batches.translate import batch_to_proto
from services.batch_records.equipment import repository as equipment
from services.batch_records.master import repository as master
from services.batch_records.master.names import version_key
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.persistence.event_spec import EventSpec, record_change
from services.common.persistence.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Saved:
    """A batch after a change, with the exceptions the change raised."""

    batch: Batch
    raised: tuple[BatchException, ...] = ()


def _without_recipe(stored: pb.Batch) -> pb.Batch:
    """A batch's form but its frozen control recipe, which it names (``master_batch_record``)."""
    shown = pb.Batch()
    shown.CopyFrom(stored)
    shown.ClearField("control_recipe")
    return shown


def _save(
    uow: UnitOfWork, spec: EventSpec, *, actor: str, before: Batch | None, after: Batch,
    reason: str = "", year: int = 0, number: int = 0, **payload_fields: object,
) -> Batch:
    """Stores ``after`` with its audit entry (old → new, both without the control recipe) and
    its event. The event carries the batch as decision 0008 says: the frozen control recipe
    goes out once, with "created"; later events name it and carry the rest, so a batch's events
    grow with its execution, never with its recipe twice over."""
    stored = batch_to_proto(after)
    if before is None:
        repository.add(uow.session, after, stored, year=year, number=number)
    else:
        repository.replace(uow.session, after, stored)
    shown = _without_recipe(stored)
    record_change(
        uow, spec, actor=actor, aggregate_id=after.batch_id, resource_name=after.name,
        old_state=None if before is None else _without_recipe(batch_to_proto(before)),
        new_state=shown, reason=reason, batch=stored if spec is events.CREATED else shown,
        **payload_fields,
    )
    return after


def create(
    uow: UnitOfWork, *, principal: Principal, site_code: str, record_id: str, version: int,
    planned_quantity: Quantity | None,
) -> Saved:
    key = version_key(record_id, version)
    # Another site's version is followed here once its transfer to this site was accepted.
    transferred = master.transferred(uow.session, key)
    recipe = transferred if transferred is not None else master.get(uow.session, key)
    year = uow.now.year
    number = repository.next_number(uow.session, year, uow.group_memo)
    batch = domain.create_batch(
        batch_id=batch_id_for(site_code, year, number), recipe=recipe, site=uow.site,
        created_by=principal.username, now=uow.now, planned_quantity=planned_quantity,
        transferred=transferred is not None,
    )
    return Saved(_save(uow, events.CREATED, actor=principal.username, before=None, after=batch,
                       year=year, number=number))


def record_steps(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, records: Sequence[StepRecord],
    signature: SignatureRecord,
) -> Saved:
    before = repository.get(uow.session, batch_id)
    equipment_ids = sorted({use[0] for record in records for use in record.equipment})
    after, raised = domain.record_steps(
        before, records, signature=signature,
        equipment_status=equipment.status_of(uow.session, equipment_ids), now=uow.now,
    )
    step_ids = [record.step_id for record in records]
    return Saved(_save(uow, events.STEP_RECORDED, actor=principal.username, before=before,
                       after=after, step_ids=step_ids), tuple(raised))


def verify_step(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, step_id: str,
    signature: SignatureRecord,
) -> Saved:
    before = repository.get(uow.session, batch_id)
    after = domain.verify_step(before, step_id, signature=signature, now=uow.now)
    return Saved(_save(uow, events.STEP_VERIFIED, actor=principal.username, before=before,
                       after=after, step_id=step_id))


def correct_value(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, step_id: str, parameter: str,
    corrected: Quantity, signature: SignatureRecord,
) -> Saved:
    before = repository.get(uow.session, batch_id)
    after, raised = domain.correct_value(
        before, step_id, parameter, corrected, signature=signature, now=uow.now
    )
    return Saved(_save(uow, events.VALUE_CORRECTED, actor=principal.username, before=before,
                       after=after, reason=signature.reason, step_id=step_id,
                       parameter=parameter), tuple(raised))


def disposition_exception(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, exception_id: str,
    signature: SignatureRecord,
) -> Saved:
    before = repository.get(uow.session, batch_id)
    after = domain.disposition_exception(before, exception_id, signature=signature, now=uow.now)
    return Saved(_save(uow, events.EXCEPTION_DISPOSITIONED, actor=principal.username,
                       before=before, after=after, reason=signature.reason,
                       exception_id=exception_id))


def raise_deviation(
    uow: UnitOfWork, *, principal: Principal, batch_id: str,
    classification: domain.Severity | None, title: str, description: str,
    exception_ids: Sequence[str],
) -> tuple[Saved, domain.Deviation]:
    before = repository.get(uow.session, batch_id)
    after, deviation = domain.raise_deviation(
        before, classification=classification, title=title, description=description,
        exception_ids=exception_ids, raised_by=principal.username, now=uow.now,
    )
    saved = _save(uow, events.DEVIATION_RAISED, actor=principal.username, before=before,
                  after=after, deviation_id=deviation.id)
    return Saved(saved), deviation


def update_deviation(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, deviation_id: str,
    investigation: str, capa_reference: str,
) -> Saved:
    before = repository.get(uow.session, batch_id)
    after = domain.update_deviation(
        before, deviation_id, investigation=investigation, capa_reference=capa_reference,
        now=uow.now,
    )
    return Saved(_save(uow, events.DEVIATION_UPDATED, actor=principal.username, before=before,
                       after=after, deviation_id=deviation_id))


def close_deviation(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, deviation_id: str,
    signature: SignatureRecord,
) -> Saved:
    before = repository.get(uow.session, batch_id)
    after = domain.close_deviation(before, deviation_id, signature=signature, now=uow.now)
    return Saved(_save(uow, events.DEVIATION_CLOSED, actor=principal.username, before=before,
                       after=after, reason=signature.reason, deviation_id=deviation_id))


def complete(
    uow: UnitOfWork, *, principal: Principal, batch_id: str, signature: SignatureRecord
) -> Saved:
    before = repository.get(uow.session, batch_id)
    after, raised = domain.complete(before, signature=signature, now=uow.now)
    return Saved(_save(uow, events.COMPLETED, actor=principal.username, before=before,
                       after=after, reason=signature.reason), tuple(raised))


def submit_for_review(uow: UnitOfWork, *, principal: Principal, batch_id: str) -> Saved:
    before = repository.get(uow.session, batch_id)
    after = domain.submit_for_review(before, now=uow.now)
    return Saved(_save(uow, events.SUBMITTED, actor=principal.username, before=before,
                       after=after))


class SignedUseCase(Protocol):
    def __call__(
        self, uow: UnitOfWork, *, principal: Principal, batch_id: str,
        signature: SignatureRecord,
    ) -> Saved: ...


def _signed_decision(decide: Callable[..., Batch], spec: EventSpec) -> SignedUseCase:
    """The shape of QA's approval and rejection: the whole batch, one signature, one event."""

    def use_case(
        uow: UnitOfWork, *, principal: Principal, batch_id: str, signature: SignatureRecord
    ) -> Saved:
        before = repository.get(uow.session, batch_id)
        after = decide(before, signature=signature, now=uow.now)
        return Saved(_save(uow, spec, actor=principal.username, before=before, after=after,
                           reason=signature.reason))

    return use_case


approve = _signed_decision(domain.approve, events.APPROVED)
reject = _signed_decision(domain.reject, events.REJECTED)


def raise_process_exception(
    uow: UnitOfWork, *, batch_id: str, source: str, description: str, major: bool,
    raised_by: str, event_id: str,
) -> Saved:
    """The exception another context's event raises on a batch; ``raised_by`` is the service
    that published it (the audit entry's actor), and the event id is the entry's reason."""
    before = repository.get(uow.session, batch_id)
    after, raised = domain.raise_process_exception(
        before, source=source, description=description, major=major, now=uow.now
    )
    return Saved(_save(uow, events.EXCEPTION_RAISED, actor=raised_by, before=before,
                       after=after, reason=f"event {event_id} from {source}",
                       exception_id=raised.id, source_event_id=event_id), (raised,))


def record_disposition(
    uow: UnitOfWork, *, batch_id: str, disposition: domain.BatchDisposition, event_id: str,
) -> Batch:
    """QA's disposition that release testing's event announces, recorded on the batch once;
    the audit entry's actor is release testing, its reason the event."""
    before = repository.get(uow.session, batch_id)
    after = domain.record_disposition(before, disposition, now=uow.now)
    if after is before:
        return before
    return _save(uow, events.DISPOSITIONED, actor="release_testing", before=before,
                 after=after, reason=f"event {event_id}: {disposition.decision.value} by "
                 f"{disposition.signature.signer}", disposition=disposition.name)
