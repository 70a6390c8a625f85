"""Takes batch and results events in: the batches this site knows, every site's trend points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twinline.batchrecords.v1 import batch_pb2
from twinline.events.v1 import conjugation_events_pb2

from services.common.domain.clock import to_text
from services.common.grpc.translate import moment
from services.common.messaging.events import ReceivedEvent
from services.common.persistence.inbox import new_events
from services.common.persistence.unit_of_work import UnitOfWork
from services.conjugation.projection import repository
from services.conjugation.projection.domain import KnownBatch, TrendPoint, newer
from services.conjugation.runs.translate import ATTRIBUTE_FROM_PROTO

RESULTS_TYPE = conjugation_events_pb2.RunResultsRecorded.DESCRIPTOR.full_name


@dataclass(frozen=True)
class Seen:
    event: ReceivedEvent
    batch: KnownBatch | None = None
    points: tuple[TrendPoint, ...] = ()


def seen(event: ReceivedEvent) -> Seen | None:
    """What an event tells this service; None for one it does not follow."""
    if event.event_type == RESULTS_TYPE:
        run = event.payload.run  # type: ignore[attr-defined]
        return Seen(event, points=tuple(
            TrendPoint(
                run_id=run.run_id, attribute=ATTRIBUTE_FROM_PROTO[value.attribute].value,
                site=run.home_site, product=run.product,
                batch_id=run.batch.removeprefix("batches/"), value=value.value.value,
                unit=value.value.unit, record_time=to_text(moment(run.results.record_time)),
            )
            for value in run.results.values if value.attribute in ATTRIBUTE_FROM_PROTO
        ))
    batch = getattr(event.payload, "batch", None)
    if not isinstance(batch, batch_pb2.Batch):
        return None
    if not batch.batch_id or not batch.etag.isdigit():
        raise ValueError(f"{event.subject} {event.event_id}: the batch has no id or etag")
    return Seen(event, batch=KnownBatch(
        batch_id=batch.batch_id,
        state=batch_pb2.BatchState.Name(batch.state).removeprefix("BATCH_STATE_").lower(),
        product=batch.control_recipe.product if batch.HasField("control_recipe") else "",
        revision=int(batch.etag),
        recipe=batch.control_recipe.SerializeToString() if batch.HasField("control_recipe")
        else None,
    ))


def apply(uow: UnitOfWork, items: Sequence[Seen]) -> int:
    """Takes in each event not taken in before; returns how many were new."""
    fresh = new_events(uow, items, lambda item: item.event)
    newest: dict[str, KnownBatch] = {}
    recipes: dict[str, tuple[bytes, str]] = {}
    for item in fresh:
        if item.batch is not None:
            if item.batch.recipe is not None:
                recipes[item.batch.batch_id] = (item.batch.recipe, item.batch.product)
            if newer(item.batch, newest.get(item.batch.batch_id)):
                newest[item.batch.batch_id] = item.batch
        if item.points:
            repository.put_points(uow.session, item.points)
    if newest:
        repository.put_batches(uow.session, list(newest.values()), recipes)
    return len(fresh)
