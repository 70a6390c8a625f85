"""Takes every site's batch events and the other sites' release-testing events in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from google.protobuf import message
from twinline.batchrecords.v1 import batch_pb2
from twinline.releasetesting.v1 import investigation_pb2, sample_pb2, specification_pb2

from services.common.domain.clock import to_text
from services.common.grpc.translate import moment
from services.common.messaging.events import ReceivedEvent
from services.common.persistence.inbox import new_events
from services.common.persistence.unit_of_work import UnitOfWork
from services.release_testing.projection import repository
from services.release_testing.projection.domain import KnownBatch, newer
from services.release_testing.samples import repository as samples


@dataclass(frozen=True)
class Seen:
    event: ReceivedEvent
    batch: KnownBatch | None = None
    # Another site's resource: a specification version or a sample.
    replica: message.Message | None = None


def open_issues(batch: batch_pb2.Batch) -> tuple[str, ...]:
    """Exceptions without QA's disposition and deviations not closed."""
    return (
        *(exception.id for exception in batch.exceptions
          if not exception.HasField("disposition")),
        *(deviation.id for deviation in batch.deviations
          if deviation.state != batch_pb2.DEVIATION_STATE_CLOSED),
    )


def seen(event: ReceivedEvent) -> Seen | None:
    """What an event tells this service; None for one it does not follow."""
    payload = event.payload
    for field in ("specification", "sample", "investigation"):
        replica = getattr(payload, field, None)
        if isinstance(replica, specification_pb2.Specification | sample_pb2.Sample |
                      investigation_pb2.Investigation):
            return Seen(event, replica=replica)
    batch = getattr(payload, "batch", None)
    if not isinstance(batch, batch_pb2.Batch):
        return None
    if not batch.batch_id or not batch.etag.isdigit():
        raise ValueError(f"{event.subject} {event.event_id}: the batch has no id or etag")
    return Seen(event, batch=KnownBatch(
        batch_id=batch.batch_id, home_site=batch.home_site,
        product=batch.control_recipe.product if batch.HasField("control_recipe") else "",
        state=batch_pb2.BatchState.Name(batch.state).removeprefix("BATCH_STATE_").lower(),
        open_issues=open_issues(batch), revision=int(batch.etag),
    ))


def apply(uow: UnitOfWork, items: Sequence[Seen]) -> int:
    """Takes in each event not taken in before; returns how many were new. This site's own
    specifications, samples and investigations are written here, never replicated onto
    themselves."""
    fresh = new_events(uow, items, lambda item: item.event)
    newest: dict[str, KnownBatch] = {}
    products: dict[str, str] = {}
    for item in fresh:
        if item.batch is not None:
            if item.batch.product:
                products.setdefault(item.batch.batch_id, item.batch.product)
            if newer(item.batch, newest.get(item.batch.batch_id)):
                newest[item.batch.batch_id] = item.batch
        replica = item.replica
        if isinstance(replica, specification_pb2.Specification) and \
                replica.home_site != uow.site:
            repository.put_specification_replica(
                uow.session, spec_id=replica.spec_id, version=replica.version,
                home_site=replica.home_site, product=replica.product,
                state=specification_pb2.SpecificationState.Name(replica.state)
                .removeprefix("SPECIFICATION_STATE_").lower(),
                revision=int(replica.etag), document=replica.SerializeToString(),
                update_time=to_text(moment(replica.update_time)),
            )
        elif isinstance(replica, sample_pb2.Sample) and replica.home_site != uow.site:
            if repository.put_sample_replica(
                uow.session, sample_id=replica.name.removeprefix("samples/"),
                home_site=replica.home_site, batch_id=replica.batch.removeprefix("batches/"),
                revision=int(replica.etag), document=replica.SerializeToString(),
                update_time=to_text(moment(replica.update_time)),
            ):
                samples.index_trend(uow.session, replica)
        elif isinstance(replica, investigation_pb2.Investigation) and \
                replica.home_site != uow.site:
            repository.put_investigation_replica(uow.session, replica)
    if newest:
        repository.put_batches(uow.session, [
            replace(batch, product=batch.product or products.get(batch.batch_id, ""))
            for batch in newest.values()
        ])
    return len(fresh)
