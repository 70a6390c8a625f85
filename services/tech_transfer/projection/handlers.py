"""Takes in this site's master record events, the other sites' package and receipt events
(the sender's part arrives at the receiving site, whose service then acknowledges it; the
receipt arrives at the sending site), and every site's reviewed results (comparability)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.events.v1 import release_testing_events_pb2
from twinline.releasetesting.v1 import sample_pb2
from twinline.techtransfer.v1 import transfer_pb2 as pb

from services.common.messaging.events import ReceivedEvent
from services.common.persistence.inbox import new_events
from services.common.persistence.unit_of_work import UnitOfWork
from services.tech_transfer.packages import domain, events, repository
from services.tech_transfer.packages.handlers import save
from services.tech_transfer.packages.translate import package_from_proto, receipt_from_proto
from services.tech_transfer.projection import repository as results


@dataclass(frozen=True)
class Seen:
    event: ReceivedEvent
    master: mbr_pb.MasterBatchRecord | None = None
    package: pb.TransferPackage | None = None
    sample: sample_pb2.Sample | None = None


def seen(event: ReceivedEvent) -> Seen | None:
    payload = event.payload
    if isinstance(payload, release_testing_events_pb2.SampleChanged):
        return Seen(event, sample=payload.sample)
    package = getattr(payload, "package", None)
    if isinstance(package, pb.TransferPackage):
        return Seen(event, package=package)
    master = getattr(payload, "master_batch_record", None)
    if isinstance(master, mbr_pb.MasterBatchRecord) and master.etag:
        return Seen(event, master=master)
    return None


def apply(uow: UnitOfWork, items: Sequence[Seen]) -> int:
    fresh = new_events(uow, items, lambda item: item.event)
    for item in fresh:
        if item.master is not None and item.master.home_site == uow.site:
            repository.put_master(uow.session, item.master)
        elif item.package is not None:
            _merge(uow, item.package)
        elif item.sample is not None:
            results.put_results(uow.session, item.sample)
    return len(fresh)


def _merge(uow: UnitOfWork, arrived: pb.TransferPackage) -> None:
    """The other site's part, if newer than what this site holds of it."""
    held = repository.found(uow.session, arrived.package_id)
    if arrived.receiving_site == uow.site and arrived.sending_site != uow.site:
        if held is not None and int(held.etag) >= int(arrived.etag):
            return
        merged = pb.TransferPackage()
        merged.CopyFrom(arrived)
        merged.ClearField("receipt")
        if held is not None and held.HasField("receipt"):
            merged.receipt.CopyFrom(held.receipt)
        package = package_from_proto(merged)
        received = domain.receive(package, now=uow.now)
        if received is package:
            repository.put(uow.session, merged)
        else:  # this site's service acknowledges the sent revision itself
            save(uow, events.RECEIVED, actor="tech_transfer", before=package, after=received)
    elif arrived.sending_site == uow.site and held is not None and arrived.HasField("receipt"):
        current = package_from_proto(held)
        receipt = receipt_from_proto(arrived.receipt)
        if current.receipt is not None and current.receipt.version >= receipt.version:
            return
        updated = pb.TransferPackage()
        updated.CopyFrom(held)
        updated.receipt.CopyFrom(arrived.receipt)
        updated.state = arrived.state if arrived.revision == held.revision else held.state
        repository.put(uow.session, updated)
