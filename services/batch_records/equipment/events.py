"""The events of the equipment register."""

from __future__ import annotations

from twinline.events.v1 import batch_events_pb2 as events

from services.batch_records.event_spec import declare
from services.common.persistence.event_spec import EventSpec

SET = declare(
    "equipment", "set", events.EquipmentSet,
    "The equipment register changed (added, or status changed).",
)

DECLARED: tuple[EventSpec, ...] = (SET,)
