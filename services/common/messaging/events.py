"""Events on the bus: a protobuf payload with CloudEvents 1.0 attributes as NATS headers.

Binary content mode: the payload is the serialized message from protos/twinline/events/v1;
``ce-*`` headers carry id, source, type, subject and time; ``Nats-Msg-Id`` = id lets
JetStream drop a republished event. ``Twinline-Audit-Seq`` and ``Twinline-Audit-Hash`` carry
the audit chain's head as of the change the event announces, so the stream witnesses the chain.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import uuid
from dataclasses import dataclass
from datetime import datetime

from google.protobuf import descriptor_pool, message, message_factory

from services.common.domain.clock import from_text, to_text
from services.common.messaging.subjects import site_of_subject

CONTENT_TYPE = "application/protobuf"
AUDIT_SEQUENCE_HEADER = "Twinline-Audit-Seq"
AUDIT_HASH_HEADER = "Twinline-Audit-Hash"


@dataclass(frozen=True)
class OutboxEvent:
    """An event written to the outbox in the same transaction as its change."""

    event_id: str
    subject: str
    event_type: str
    time: datetime
    headers: dict[str, str]
    payload: bytes


@dataclass(frozen=True)
class OutboxEntry:
    """An event as the outbox holds it; ``position`` orders entries as their commits were."""

    position: int
    event_id: str
    subject: str
    event_type: str
    headers: dict[str, str]
    payload: bytes


@dataclass(frozen=True)
class ReceivedEvent:
    event_id: str
    subject: str
    event_type: str
    time: datetime
    origin_site: str
    payload: message.Message
    stream_sequence: int


def new_event(
    *, subject: str, payload: message.Message, source: str, ce_subject: str, time: datetime,
    traceparent: str | None = None,
) -> OutboxEvent:
    event_id = str(uuid.uuid4())
    event_type = payload.DESCRIPTOR.full_name
    headers = {
        "Nats-Msg-Id": event_id,
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": source,
        "ce-type": event_type,
        "ce-subject": ce_subject,
        "ce-time": to_text(time),
        "content-type": CONTENT_TYPE,
        "traceparent": traceparent or new_traceparent(),
    }
    return OutboxEvent(event_id, subject, event_type, time, headers, payload.SerializeToString())


def with_audit_head(event: OutboxEvent, sequence: int, entry_hash: str) -> OutboxEvent:
    """The event, carrying the audit chain's head as of its change (its anchor)."""
    return dataclasses.replace(
        event,
        headers={
            **event.headers, AUDIT_SEQUENCE_HEADER: str(sequence), AUDIT_HASH_HEADER: entry_hash,
        },
    )


def new_traceparent() -> str:
    """A W3C trace context for an event that starts a trace."""
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


@functools.cache
def message_class(event_type: str) -> type[message.Message]:
    import twinline.events.v1.batch_events_pb2
    import twinline.events.v1.master_batch_record_events_pb2
    import twinline.events.v1.site_events_pb2  # noqa: F401  (registers the types)

    descriptor = descriptor_pool.Default().FindMessageTypeByName(event_type)
    return message_factory.GetMessageClass(descriptor)


def decode(
    subject: str, headers: dict[str, str] | None, data: bytes, stream_sequence: int
) -> ReceivedEvent:
    """A message from the stream as an event; ValueError if it is not one of ours."""
    headers = headers or {}
    try:
        event_type = headers["ce-type"]
        event_id = headers["ce-id"]
        time = from_text(headers["ce-time"])
    except KeyError as missing:
        raise ValueError(f"{subject}: missing CloudEvents header {missing}") from None
    try:
        payload = message_class(event_type).FromString(data)
    except (KeyError, message.DecodeError) as problem:
        raise ValueError(f"{subject}: cannot decode a {event_type!r}: {problem}") from None
    return ReceivedEvent(
        event_id, subject, event_type, time, site_of_subject(subject), payload, stream_sequence
    )
