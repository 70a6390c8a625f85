"""The events tech transfer declares: its subjects' context and the service that publishes."""

from __future__ import annotations

from google.protobuf import message

from services.common.persistence.event_spec import EventSpec

CONTEXT, SERVICE = "tech_transfer", "tech_transfer"


def declare(
    aggregate: str, event: str, payload: type[message.Message], meaning: str
) -> EventSpec:
    return EventSpec(aggregate, event, payload, meaning, CONTEXT, SERVICE)
