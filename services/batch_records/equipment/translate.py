"""Protobuf ⇄ domain for the equipment register."""

from __future__ import annotations

from twinline.batchrecords.v1 import equipment_service_pb2 as pb

from services.batch_records.equipment.domain import Equipment, EquipmentStatus, equipment
from services.common.grpc.translate import enum_map, inverse

STATUS_TO_PROTO = enum_map(EquipmentStatus, pb.EquipmentStatus, "EQUIPMENT_STATUS")
STATUS_FROM_PROTO = inverse(STATUS_TO_PROTO)


def equipment_from_proto(message: pb.Equipment, prefix: str = "equipment") -> Equipment:
    """The equipment of a request; bad fields are raised together."""
    return equipment(
        message.equipment_id, message.description, STATUS_FROM_PROTO.get(message.status), prefix
    )


def equipment_to_proto(entry: Equipment) -> pb.Equipment:
    return pb.Equipment(
        equipment_id=entry.equipment_id, description=entry.description,
        status=STATUS_TO_PROTO[entry.status],
    )
