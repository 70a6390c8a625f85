"""The equipment register's entries: bounds checked in the domain, every bad field named."""

from __future__ import annotations

import pytest

from services.batch_records.equipment.domain import READY, Equipment, EquipmentStatus, equipment
from services.common.domain.errors import InvalidArgument


def test_an_entry_within_its_bounds_is_made() -> None:
    assert equipment("R-201", "jacketed vessel", EquipmentStatus.CLEAN) == Equipment(
        "R-201", "jacketed vessel", EquipmentStatus.CLEAN
    )


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidArgument) as refused:
        equipment("R\x01" + "x" * 70, "d" * 201, None)
    assert [violation.field for violation in refused.value.violations] == [
        "equipment.equipment_id", "equipment.description", "equipment.status",
    ]


def test_a_blank_id_is_refused() -> None:
    with pytest.raises(InvalidArgument) as refused:
        equipment("  ", "", EquipmentStatus.DIRTY)
    assert [(v.field, v.description) for v in refused.value.violations] == [
        ("equipment.equipment_id", "is required")
    ]


def test_only_clean_or_available_equipment_is_ready() -> None:
    assert {status for status in EquipmentStatus if status in READY} == {
        EquipmentStatus.CLEAN, EquipmentStatus.AVAILABLE,
    }
    assert "CLEAN" in READY  # the register stores the status by name
