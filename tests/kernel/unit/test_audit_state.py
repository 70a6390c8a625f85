"""One form of an aggregate's state in the audit trail, and each proto form made once."""

from __future__ import annotations

import json

from twinline.batchrecords.v1 import equipment_service_pb2 as pb

from services.batch_records.equipment.domain import Equipment, EquipmentStatus
from services.batch_records.equipment.translate import equipment_to_proto
from services.batch_records.proto_forms import ProtoForms
from services.common.persistence.audit_state import audit_state


def test_the_audit_state_is_the_api_message_as_canonical_json() -> None:
    state = audit_state(
        pb.Equipment(equipment_id="R-201", description="", status=pb.EQUIPMENT_STATUS_CLEAN)
    )
    assert state == '{"equipmentId":"R-201","status":"EQUIPMENT_STATUS_CLEAN"}'
    assert json.loads(state) == {"equipmentId": "R-201", "status": "EQUIPMENT_STATUS_CLEAN"}


def test_there_is_no_old_state_before_a_creation() -> None:
    assert audit_state(None) == ""


def test_a_domain_object_is_converted_once_and_a_read_one_not_at_all() -> None:
    made: list[Equipment] = []

    def convert(entry: Equipment) -> pb.Equipment:
        made.append(entry)
        return equipment_to_proto(entry)

    forms = ProtoForms(convert, limit=8)
    entry = Equipment("R-201", "vessel", EquipmentStatus.CLEAN)
    assert forms(entry) is forms(entry)
    read = Equipment("R-202", "vessel", EquipmentStatus.DIRTY)
    stored = equipment_to_proto(read)
    forms.remember(read, stored)
    assert forms(read) is stored
    assert made == [entry]
    # An equal object is another object: its form is made anew, equal to the first.
    twin = Equipment("R-201", "vessel", EquipmentStatus.CLEAN)
    assert forms(twin) == forms(entry)
    assert made == [entry, twin]
