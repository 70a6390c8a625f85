"""How an aggregate declares the events it publishes, and publishes one.

Each aggregate lists its events in its own ``events.py``; its handlers publish only through
those declarations, and the event catalog (services/devstack/event_catalog.py) is built from
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import message

from services.common.messaging.events import new_event
from services.common.messaging.subjects import event_subject
from services.common.persistence.audit_state import audit_state
from services.common.persistence.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class EventSpec:
    """One event of an aggregate: its name in the subject, its payload and what it means."""

    aggregate: str
    event: str
    payload: type[message.Message]
    meaning: str
    context: str  # the subject's context token, e.g. batchrecords
    producer: str  # the service that publishes it, e.g. batch_records


def record_change(
    uow: UnitOfWork, spec: EventSpec, *, actor: str, aggregate_id: str, resource_name: str,
    old_state: message.Message | None, new_state: message.Message, reason: str = "",
    **payload_fields: object,
) -> None:
    """The audit entry (old → new state, as API messages) and the event ``spec`` declares,
    its payload made of ``payload_fields``, in the open transaction."""
    uow.record_change(
        actor=actor, service=spec.producer, context=spec.context, aggregate=spec.aggregate,
        event=spec.event, aggregate_id=aggregate_id, resource_name=resource_name,
        old_value=audit_state(old_state), new_value=audit_state(new_state),
        payload=spec.payload(**payload_fields), reason=reason,
    )


def publish_event(
    uow: UnitOfWork, spec: EventSpec, *, resource_name: str, **payload_fields: object
) -> None:
    """The event ``spec`` declares, without an audit entry of its own: for an event that
    follows from a change audited in the same transaction (e.g. the exception a recorded
    charge raises)."""
    uow.publish(
        new_event(
            subject=event_subject(uow.site, spec.context, spec.aggregate, spec.event),
            payload=spec.payload(**payload_fields),
            source=f"twinline/{uow.site}/{spec.producer}", ce_subject=resource_name,
            time=uow.now,
        )
    )
