"""batch_records' consumer of accepted transfers: when this site's QA accepts a transfer
package (tech transfer's event at this site), the package's master record version becomes
effective here, once. The sending site can never do it: only this site's events are read."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from twinline.batchrecords.v1 import master_batch_record_pb2
from twinline.events.v1 import tech_transfer_events_pb2
from twinline.techtransfer.v1 import transfer_pb2

from services.batch_records.master import handlers
from services.common.domain.errors import DomainError
from services.common.domain.signatures import SignatureRecord
from services.common.grpc.translate import signature_from_proto
from services.common.messaging.bus import Bus
from services.common.messaging.consumer import StreamConsumer
from services.common.messaging.events import ReceivedEvent
from services.common.messaging.subjects import event_subject, stream_name
from services.common.persistence.inbox import new_events
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.common.sites import Site

log = logging.getLogger(__name__)
CONSUMER_NAME = "batch_records_transfers"


def subjects(site: Site) -> tuple[str, ...]:
    return (event_subject(site.id, "tech_transfer", "receipt", "accepted"),)


@dataclass(frozen=True)
class Accepted:
    event: ReceivedEvent
    record: master_batch_record_pb2.MasterBatchRecord
    package: str
    signature: SignatureRecord


def accepted(event: ReceivedEvent) -> Accepted | None:
    """The version an accepted package makes effective here; ValueError for a malformed one."""
    if not isinstance(event.payload, tech_transfer_events_pb2.TransferPackageChanged):
        return None
    package = event.payload.package
    receipt = package.receipt
    if receipt.state != transfer_pb2.RECEIPT_STATE_ACCEPTED or not receipt.signatures:
        raise ValueError(f"{event.subject} {event.event_id}: not an accepted, signed receipt")
    if not package.master_batch_record.record_id:
        raise ValueError(f"{event.subject} {event.event_id}: the package has no master record")
    return Accepted(event, package.master_batch_record, package.name,
                    signature_from_proto(receipt.signatures[-1]))


def apply(uow: UnitOfWork, items: Sequence[Accepted]) -> int:
    fresh = new_events(uow, items, lambda item: item.event)
    for item in fresh:
        try:
            handlers.make_effective_by_transfer(
                uow, record=item.record, package=item.package, signature=item.signature,
                event_id=item.event.event_id)
        except DomainError as refused:
            log.error("transfer %s (event %s) not made effective: %s", item.package,
                      item.event.event_id, refused.message)
    return len(fresh)


class TransferConsumer(StreamConsumer[Accepted]):
    def __init__(self, *, bus: Bus, writer: Writer, site: Site) -> None:
        super().__init__(
            bus=bus, writer=writer, stream=stream_name(site.id), durable=CONSUMER_NAME,
            subjects=subjects(site), take=accepted, apply=apply,
        )
