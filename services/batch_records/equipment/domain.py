"""Equipment of the site's register: its id, description and status. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.common.domain import bounds
from services.common.domain.errors import Violations
from services.common.domain.roles import Role

# Who keeps the register.
EQUIPMENT_ROLES = (Role.SUPERVISOR, Role.ADMIN)


class EquipmentStatus(StrEnum):
    CLEAN = "CLEAN"
    AVAILABLE = "AVAILABLE"
    DIRTY = "DIRTY"
    IN_USE = "IN_USE"
    MAINTENANCE = "MAINTENANCE"


# A step may use equipment in these states; any other needs an override with a reason.
READY = frozenset({EquipmentStatus.CLEAN, EquipmentStatus.AVAILABLE})


@dataclass(frozen=True)
class Equipment:
    equipment_id: str
    description: str
    status: EquipmentStatus


def equipment(
    equipment_id: str, description: str, status: EquipmentStatus | None,
    prefix: str = "equipment",
) -> Equipment:
    """An entry of the register, every bad field named together."""
    violations = Violations()
    bounds.text(f"{prefix}.equipment_id", equipment_id, bounds.ID_LEN, violations,
                required=True)
    bounds.text(f"{prefix}.description", description, bounds.NAME_LEN, violations)
    if status is None:
        violations.add(f"{prefix}.status", "is required")
    violations.raise_if_any()
    assert status is not None
    return Equipment(equipment_id, description, status)
