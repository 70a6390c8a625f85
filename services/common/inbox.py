"""The inbox: each consumed event is handled at most once, in the handler's own transaction."""

from __future__ import annotations

from services.common.clock import to_text
from services.common.events import ReceivedEvent
from services.common.tables import InboxRow
from services.common.unit_of_work import UnitOfWork


def first_time(uow: UnitOfWork, event: ReceivedEvent) -> bool:
    """True, and the event recorded as handled, unless it was handled before."""
    if uow.session.get(InboxRow, event.event_id) is not None:
        return False
    uow.session.add(
        InboxRow(
            event_id=event.event_id, subject=event.subject,
            stream_sequence=event.stream_sequence, handled_time=to_text(uow.now),
        )
    )
    return True
