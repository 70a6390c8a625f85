"""How large an event the bus carries, and the check that no command commits a larger one.

nats-server refuses a message whose headers and payload together exceed its ``max_payload``;
a relay could then never publish it, and every later event of the site would wait behind it.
So the unit of work measures each event before commit (decision 0008). The limit starts at
NATS's default (1 MiB) and is replaced by the server's own value once the bus connects.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.domain.errors import FailedPrecondition
from services.common.messaging.events import OutboxEvent

# nats-server's own default max_payload: what a process assumes until its server says otherwise.
DEFAULT_MAX_PAYLOAD = 1024 * 1024
# Kept free below the limit for what is added to an event after the check (headers another
# part of the kernel may add on publish) and for the NATS header block's framing slack.
HEADROOM = 4 * 1024
# NATS header block framing: "NATS/1.0\r\n" ... "\r\n".
_HEADER_FRAME = len(b"NATS/1.0\r\n\r\n")


def encoded_size(event: OutboxEvent) -> int:
    """Bytes the event takes on the wire under max_payload: payload plus its header block."""
    headers = sum(
        len(name.encode()) + len(value.encode()) + len(b": \r\n")
        for name, value in event.headers.items()
    )
    return len(event.payload) + headers + _HEADER_FRAME


class EventTooLarge(FailedPrecondition):
    """The command's event would not fit on the bus: the command is refused, nothing written."""

    def __init__(self, event_type: str, size: int, limit: int) -> None:
        super().__init__(
            "EVENT_TOO_LARGE",
            f"the change would publish a {event_type} event of {size} bytes; the bus carries "
            f"at most {limit} bytes per event (max_payload less {HEADROOM} bytes of headroom)",
            eventType=event_type, eventBytes=str(size), limitBytes=str(limit),
        )


@dataclass
class EventSizeLimit:
    """The largest event this process may commit; shared by its writer and its bus."""

    max_payload: int = DEFAULT_MAX_PAYLOAD
    # True once a server's INFO has told us its max_payload (else the default holds).
    learned: bool = False

    @property
    def limit(self) -> int:
        return self.max_payload - HEADROOM

    def learn(self, server_max_payload: int) -> None:
        """The server's max_payload, from the INFO of a (re)connect."""
        if server_max_payload > 0:
            self.max_payload = server_max_payload
            self.learned = True

    def check(self, event: OutboxEvent) -> None:
        size = encoded_size(event)
        if size > self.limit:
            raise EventTooLarge(event.event_type, size, self.limit)
