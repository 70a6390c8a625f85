"""batch_records' consumer of other contexts' events that raise exceptions on its batches.

A context never calls batch_records to raise an exception (decision 0012): it publishes an
event that carries a ``ProcessException``, and this consumer raises it, once per event (the
inbox), in the batch's own transaction. Only this site's events: a run is for a batch of its
own site.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from twinline.events.v1 import conjugation_events_pb2

from services.batch_records.batches import handlers
from services.batch_records.batches.names import batch_id_of
from services.common.domain.errors import DomainError, InvalidArgument
from services.common.messaging.bus import Bus
from services.common.messaging.consumer import StreamConsumer
from services.common.messaging.events import ReceivedEvent
from services.common.messaging.subjects import event_subject, stream_name
from services.common.persistence.inbox import new_events
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.common.sites import Site
from services.conjugation.runs.names import RAISING_EVENTS

log = logging.getLogger(__name__)
CONSUMER_NAME = "batch_records_exceptions"
# The producer of each context whose events raise exceptions, by the subject's context.
PRODUCERS = {"conjugation": "conjugation"}


def subjects(site: Site) -> tuple[str, ...]:
    return tuple(
        event_subject(site.id, "conjugation", aggregate, event)
        for aggregate, event in RAISING_EVENTS
    )


@dataclass(frozen=True)
class Raising:
    event: ReceivedEvent
    batch_id: str
    exception: conjugation_events_pb2.ProcessException
    producer: str


def raising(event: ReceivedEvent) -> Raising | None:
    """The exception an event asks for; ValueError for one that carries a malformed one."""
    exception = getattr(event.payload, "exception", None)
    if not isinstance(exception, conjugation_events_pb2.ProcessException):
        return None
    try:
        batch_id = batch_id_of(exception.batch, "exception.batch")
    except InvalidArgument as error:
        raise ValueError(f"{event.subject} {event.event_id}: {error.message}") from None
    context = event.subject.split(".")[2]
    return Raising(event, batch_id, exception, PRODUCERS.get(context, context))


def apply(uow: UnitOfWork, items: Sequence[Raising]) -> int:
    """Raises each exception not raised before; returns how many were new."""
    fresh = new_events(uow, items, lambda item: item.event)
    for item in fresh:
        try:
            handlers.raise_process_exception(
                uow, batch_id=item.batch_id, source=item.exception.source,
                description=item.exception.description, major=item.exception.major,
                raised_by=item.producer, event_id=item.event.event_id,
            )
        except DomainError as refused:
            # No such batch, or one already decided: retrying cannot change that. It stays in
            # the inbox as handled, and in the log for QA.
            log.error(
                "exception from %s (event %s) not raised on batch %s: %s",
                item.exception.source, item.event.event_id, item.batch_id, refused.message,
            )
    return len(fresh)


class ProcessExceptionConsumer(StreamConsumer[Raising]):
    def __init__(self, *, bus: Bus, writer: Writer, site: Site) -> None:
        super().__init__(
            bus=bus, writer=writer, stream=stream_name(site.id), durable=CONSUMER_NAME,
            subjects=subjects(site), take=raising, apply=apply,
        )
