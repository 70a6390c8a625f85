"""The events release testing declares: its subjects' context and the service that publishes."""

from __future__ import annotations

from google.protobuf import message

from services.common.persistence.event_spec import EventSpec

CONTEXT, SERVICE = "release_testing", "release_testing"


def declare(
    aggregate: str, event: str, payload: type[message.Message], meaning: str
) -> EventSpec:
    return EventSpec(aggregate, event, payload, meaning, CONTEXT, SERVICE)
