"""The inbox: each consumed event is handled at most once, in the handler's own transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import bindparam, insert, select

from services.common.domain.clock import to_text
from services.common.messaging.events import ReceivedEvent
from services.common.persistence.tables import InboxRow
from services.common.persistence.unit_of_work import UnitOfWork

E = TypeVar("E")
INBOX = InboxRow.__table__  # type: ignore[attr-defined]
# Built once: SQLAlchemy reuses their compiled form.
INSERT = insert(INBOX)
HANDLED = select(INBOX.c.event_id).where(INBOX.c.event_id.in_(bindparam("ids", expanding=True)))


def first_time(uow: UnitOfWork, event: ReceivedEvent) -> bool:
    """True, and the event recorded as handled, unless it was handled before."""
    return bool(new_events(uow, [event], lambda item: item))


def new_events(
    uow: UnitOfWork, items: Sequence[E], event_of: Callable[[E], ReceivedEvent]
) -> list[E]:
    """The items whose event was not handled before (nor earlier in ``items``), recorded as
    handled now; one query and one insert for the whole batch."""
    ids = [event_of(item).event_id for item in items]
    handled = set(uow.session.execute(HANDLED, {"ids": ids}).scalars()) if ids else set()
    fresh: list[E] = []
    rows: list[dict[str, object]] = []
    handled_time = to_text(uow.now)
    for item in items:
        event = event_of(item)
        if event.event_id in handled:
            continue
        handled.add(event.event_id)
        fresh.append(item)
        rows.append(
            {
                "event_id": event.event_id, "subject": event.subject,
                "stream_sequence": event.stream_sequence, "handled_time": handled_time,
            }
        )
    if rows:
        uow.session.execute(INSERT, rows)
    return fresh
