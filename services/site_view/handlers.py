"""The one use case of the site view: take in a batch of events from the site's stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events

from services.batch_records.domain import version_key
from services.batch_records.translate import STATE_FROM_PROTO
from services.common.clock import from_text, to_text
from services.common.events import ReceivedEvent
from services.common.inbox import first_time
from services.common.unit_of_work import UnitOfWork
from services.site_view import domain
from services.site_view.tables import ReplicaMasterBatchRecordRow, WatermarkRow

# Every master batch record event carries the record's full state after the change.
REPLICATED_EVENT_TYPES = frozenset(
    message.full_name for message in mbr_events.DESCRIPTOR.message_types_by_name.values()
)


@dataclass(frozen=True)
class ReplicaEvent:
    """An event read from the stream, with the record version it carries (if it carries one)."""

    event: ReceivedEvent
    record: pb.MasterBatchRecord | None = None
    replica: domain.ReplicaVersion | None = None


def replica_event(event: ReceivedEvent) -> ReplicaEvent:
    """The record version an event carries; ValueError if it carries a malformed one.

    Events of other kinds still move their site's watermark: the view has seen that far.
    """
    if event.event_type not in REPLICATED_EVENT_TYPES:
        return ReplicaEvent(event)
    record: pb.MasterBatchRecord = event.payload.master_batch_record  # type: ignore[attr-defined]
    if not record.record_id or record.version < 1 or not record.home_site:
        raise ValueError(f"{event.subject} {event.event_id}: the record has no id/version/site")
    state = STATE_FROM_PROTO.get(record.state)
    replica = domain.ReplicaVersion(
        record_id=record.record_id,
        version=record.version,
        home_site=record.home_site,
        # A state this release does not know (a newer origin) is kept, not refused.
        state=state.value if state is not None else f"unknown_{record.state}",
        revision=domain.revision_of(record.etag, record.version),
    )
    return ReplicaEvent(event, record, replica)


def apply_events(uow: UnitOfWork, batch: Sequence[ReplicaEvent]) -> int:
    """Takes in each event not handled before; returns how many were new."""
    taken_in = 0
    for item in batch:
        if not first_time(uow, item.event):
            continue
        taken_in += 1
        _advance_watermark(uow, item.event)
        if item.replica is not None and item.record is not None:
            _apply_record(uow, item)
    return taken_in


def _apply_record(uow: UnitOfWork, item: ReplicaEvent) -> None:
    assert item.replica is not None and item.record is not None
    incoming = item.replica
    key = version_key(incoming.record_id, incoming.version)
    row = uow.session.get(ReplicaMasterBatchRecordRow, key)
    stored = None if row is None else _version_of(row)
    if not domain.supersedes(incoming, stored):
        return
    document = item.record.SerializeToString(deterministic=True)
    event_time = to_text(item.event.time)
    if row is None:
        uow.session.add(
            ReplicaMasterBatchRecordRow(
                key=key, record_id=incoming.record_id, version=incoming.version,
                home_site=incoming.home_site, state=incoming.state, revision=incoming.revision,
                document=document, last_event_time=event_time,
                stream_sequence=item.event.stream_sequence,
            )
        )
        return
    row.home_site, row.state, row.revision = incoming.home_site, incoming.state, incoming.revision
    row.document, row.last_event_time = document, event_time
    row.stream_sequence = item.event.stream_sequence


def _version_of(row: ReplicaMasterBatchRecordRow) -> domain.ReplicaVersion:
    return domain.ReplicaVersion(
        record_id=row.record_id, version=row.version, home_site=row.home_site, state=row.state,
        revision=row.revision,
    )


def _advance_watermark(uow: UnitOfWork, event: ReceivedEvent) -> None:
    row = uow.session.get(WatermarkRow, event.origin_site)
    if row is None:
        row = WatermarkRow(site=event.origin_site)
        uow.session.add(row)
    mark = domain.advance(
        watermark_of(row), event_time=event.time, stream_sequence=event.stream_sequence
    )
    row.last_event_time = to_text(mark.last_event_time) if mark.last_event_time else None
    row.stream_sequence, row.events_applied = mark.stream_sequence, mark.events_applied


def watermark_of(row: WatermarkRow) -> domain.Watermark:
    return domain.Watermark(
        site=row.site,
        last_event_time=from_text(row.last_event_time) if row.last_event_time else None,
        stream_sequence=row.stream_sequence,
        events_applied=row.events_applied,
    )
