"""Equipment register use cases: set an entry (with its audit entry and event), list them."""

from __future__ import annotations

from sqlmodel import Session

from services.batch_records.equipment import events, repository
from services.batch_records.equipment.domain import Equipment
from services.batch_records.equipment.names import equipment_name
from services.batch_records.equipment.translate import equipment_to_proto
from services.common.domain.roles import Principal
from services.common.persistence.event_spec import record_change
from services.common.persistence.unit_of_work import UnitOfWork


def set_equipment(uow: UnitOfWork, *, principal: Principal, entry: Equipment) -> Equipment:
    before = repository.get(uow.session, entry.equipment_id)
    repository.put(uow.session, entry, exists=before is not None)
    stored = equipment_to_proto(entry)
    record_change(
        uow, events.SET, actor=principal.username, aggregate_id=entry.equipment_id,
        resource_name=equipment_name(entry.equipment_id),
        old_state=None if before is None else equipment_to_proto(before), new_state=stored,
        equipment=stored,
    )
    return entry


def list_equipment(session: Session, *, after: str | None, size: int) -> list[Equipment]:
    """A page of the register, ordered by equipment id."""
    return repository.page(session, after=after, size=size)
