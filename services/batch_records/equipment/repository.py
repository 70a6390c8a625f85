"""Persistence of the equipment register (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session

from services.batch_records.equipment.domain import Equipment, EquipmentStatus
from services.batch_records.tables import EquipmentRow

EQUIPMENT = EquipmentRow.__table__  # type: ignore[attr-defined]


def status_of(session: Session, equipment_ids: Collection[str]) -> dict[str, str]:
    """The status of each of ``equipment_ids`` that is in the register."""
    if not equipment_ids:
        return {}
    rows = session.execute(
        select(EQUIPMENT.c.equipment_id, EQUIPMENT.c.status).where(
            EQUIPMENT.c.equipment_id.in_(list(equipment_ids))
        )
    )
    return {row.equipment_id: row.status for row in rows}


def get(session: Session, equipment_id: str) -> Equipment | None:
    row = session.execute(
        select(EQUIPMENT.c.equipment_id, EQUIPMENT.c.description, EQUIPMENT.c.status)
        .where(EQUIPMENT.c.equipment_id == equipment_id)
    ).first()
    return None if row is None else _entry(row)


def put(session: Session, entry: Equipment, *, exists: bool) -> None:
    """Adds ``entry`` to the register, or overwrites the entry of its id."""
    values = {"description": entry.description, "status": entry.status.value}
    if exists:
        session.execute(
            update(EQUIPMENT).where(EQUIPMENT.c.equipment_id == entry.equipment_id).values(values)
        )
    else:
        session.execute(insert(EQUIPMENT).values(equipment_id=entry.equipment_id, **values))


def page(session: Session, *, after: str | None = None, size: int | None = None) -> list[Equipment]:
    """The register ordered by equipment id, after the given id, at most ``size`` entries."""
    query = select(EQUIPMENT.c.equipment_id, EQUIPMENT.c.description, EQUIPMENT.c.status)
    if after is not None:
        query = query.where(EQUIPMENT.c.equipment_id > after)
    rows = session.execute(query.order_by(EQUIPMENT.c.equipment_id).limit(size))
    return [_entry(row) for row in rows]


def _entry(row: Any) -> Equipment:
    return Equipment(row.equipment_id, row.description, EquipmentStatus(row.status))
