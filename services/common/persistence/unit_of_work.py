"""The unit of work: one use case's view of the open transaction.

A use case runs as a command on a ``UnitOfWork``: it reads and changes state through the
session and declares its audit entries and events; the writer (writer.py) appends the entries to the
hash chain and the events to the outbox in the same transaction. Concurrent requests queue
on one writer, which commits them in one transaction (group commit): the audit chain stays
strictly ordered and SQLite's single write lock is never contended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf import message
from sqlmodel import Session

from services.common.messaging.event_size import EventSizeLimit
from services.common.messaging.events import OutboxEvent, new_event
from services.common.messaging.subjects import event_subject
from services.common.persistence.audit import AuditChange


@dataclass
class UnitOfWork:
    """One use case's view of the open transaction."""

    session: Session
    now: datetime
    site: str
    # Shared by the use cases of one group commit (e.g. the next record number): whatever a
    # use case keeps here is valid only inside this transaction.
    group_memo: dict[str, Any] = field(default_factory=dict)
    changes: list[AuditChange] = field(default_factory=list)
    events: list[OutboxEvent] = field(default_factory=list)
    # What the bus carries: an event beyond it fails the command here, so nothing commits.
    event_limit: EventSizeLimit = field(default_factory=EventSizeLimit)

    def audit(self, change: AuditChange) -> None:
        self.changes.append(change)

    def publish(self, event: OutboxEvent) -> None:
        self.event_limit.check(event)
        self.events.append(event)

    def record_change(
        self, *, actor: str, service: str, context: str, aggregate: str, event: str,
        aggregate_id: str, resource_name: str, old_value: str, new_value: str,
        payload: message.Message, reason: str = "",
    ) -> None:
        """The audit entry (old → new) and the event of one change, in this transaction."""
        self.audit(
            AuditChange(
                actor=actor, action=f"{aggregate}.{event}", aggregate_type=aggregate,
                aggregate_id=aggregate_id, old_value=old_value, new_value=new_value,
                reason=reason,
            )
        )
        self.publish(
            new_event(
                subject=event_subject(self.site, context, aggregate, event), payload=payload,
                source=f"twinline/{self.site}/{service}", ce_subject=resource_name,
                time=self.now,
            )
        )
