"""batch_records' consumer of QA's dispositions: release testing decides at the batch's home
site and announces it; this consumer records the decision on the batch, once per event (the
inbox). Only this site's events: a batch is dispositioned at its home site."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from twinline.events.v1 import release_testing_events_pb2
from twinline.releasetesting.v1 import disposition_pb2

from services.batch_records.batches import handlers
from services.batch_records.batches.domain import BatchDisposition, DispositionDecision
from services.batch_records.batches.names import batch_id_of
from services.common.domain.errors import DomainError, InvalidArgument
from services.common.grpc.translate import signature_from_proto
from services.common.messaging.bus import Bus
from services.common.messaging.consumer import StreamConsumer
from services.common.messaging.events import ReceivedEvent
from services.common.messaging.subjects import event_subject, stream_name
from services.common.persistence.inbox import new_events
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.common.sites import Site

# Importing the payload module registers its messages, so the bus can decode them here.
log = logging.getLogger(__name__)
CONSUMER_NAME = "batch_records_dispositions"
DECISIONS = {
    disposition_pb2.DISPOSITION_DECISION_RELEASED: DispositionDecision.RELEASED,
    disposition_pb2.DISPOSITION_DECISION_REJECTED: DispositionDecision.REJECTED,
    disposition_pb2.DISPOSITION_DECISION_ON_HOLD: DispositionDecision.ON_HOLD,
}


def subjects(site: Site) -> tuple[str, ...]:
    return (event_subject(site.id, "release_testing", "disposition", "decided"),)


@dataclass(frozen=True)
class Decided:
    event: ReceivedEvent
    batch_id: str
    disposition: BatchDisposition


def decided(event: ReceivedEvent) -> Decided | None:
    """The disposition an event announces; ValueError for a malformed one."""
    if not isinstance(event.payload, release_testing_events_pb2.DispositionDecided):
        return None
    disposition = event.payload.disposition
    decision = DECISIONS.get(disposition.decision)
    try:
        batch_id = batch_id_of(disposition.batch, "disposition.batch")
    except InvalidArgument as error:
        raise ValueError(f"{event.subject} {event.event_id}: {error.message}") from None
    if decision is None or not disposition.HasField("signature"):
        raise ValueError(f"{event.subject} {event.event_id}: no decision or no signature")
    return Decided(event, batch_id, BatchDisposition(
        disposition.name, decision, signature_from_proto(disposition.signature)))


def apply(uow: UnitOfWork, items: Sequence[Decided]) -> int:
    """Records each disposition not recorded before; returns how many were new."""
    fresh = new_events(uow, items, lambda item: item.event)
    for item in fresh:
        try:
            handlers.record_disposition(uow, batch_id=item.batch_id,
                                        disposition=item.disposition,
                                        event_id=item.event.event_id)
        except DomainError as refused:
            # No such batch here: retrying cannot change that. It stays handled in the
            # inbox, and in the log for QA.
            log.error("disposition %s (event %s) not recorded: %s", item.disposition.name,
                      item.event.event_id, refused.message)
    return len(fresh)


class DispositionConsumer(StreamConsumer[Decided]):
    def __init__(self, *, bus: Bus, writer: Writer, site: Site) -> None:
        super().__init__(
            bus=bus, writer=writer, stream=stream_name(site.id), durable=CONSUMER_NAME,
            subjects=subjects(site), take=decided, apply=apply,
        )
