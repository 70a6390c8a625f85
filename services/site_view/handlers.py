"""The one use case of the site view: take in a batch of events from the site's stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events

from services.batch_records.domain import version_key
from services.batch_records.translate import STATE_FROM_PROTO
from services.common.clock import from_text, to_text
from services.common.events import ReceivedEvent
from services.common.inbox import new_events
from services.common.unit_of_work import UnitOfWork
from services.site_view import domain
from services.site_view.tables import ReplicaMasterBatchRecordRow, WatermarkRow

REPLICA = ReplicaMasterBatchRecordRow.__table__  # type: ignore[attr-defined]
UPDATE_REPLICA = (
    update(REPLICA)
    .where(REPLICA.c.key == bindparam("row_key"))
    .values({column: bindparam(column) for column in (
        "record_id", "version", "home_site", "state", "revision", "document",
        "last_event_time", "stream_sequence",
    )})
)

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
    """Takes in each event not handled before; returns how many were new.

    Reads and writes per batch, not per event: one inbox query, one query of the stored
    revisions, one write per changed record version and per origin site.
    """
    fresh = new_events(uow, batch, lambda item: item.event)
    if not fresh:
        return 0
    _advance_watermarks(uow, fresh)
    newest: dict[str, ReplicaEvent] = {}
    for item in fresh:
        if item.replica is None:
            continue
        key = version_key(item.replica.record_id, item.replica.version)
        held = newest.get(key)
        if held is None or domain.supersedes(item.replica, held.replica):
            newest[key] = item
    if newest:
        _apply_records(uow, newest)
    return len(fresh)


def _apply_records(uow: UnitOfWork, newest: dict[str, ReplicaEvent]) -> None:
    stored = {
        row.key: domain.ReplicaVersion(
            record_id=row.record_id, version=row.version, home_site=row.home_site,
            state=row.state, revision=row.revision,
        )
        for row in uow.session.execute(
            select(
                REPLICA.c.key, REPLICA.c.record_id, REPLICA.c.version, REPLICA.c.home_site,
                REPLICA.c.state, REPLICA.c.revision,
            ).where(REPLICA.c.key.in_(list(newest)))
        )
    }
    inserts, updates = [], []
    for key, item in newest.items():
        assert item.replica is not None and item.record is not None
        if not domain.supersedes(item.replica, stored.get(key)):
            continue  # stale or repeated: the view already holds this state or a newer one
        values = {
            "record_id": item.replica.record_id, "version": item.replica.version,
            "home_site": item.replica.home_site, "state": item.replica.state,
            "revision": item.replica.revision,
            "document": item.record.SerializeToString(deterministic=True),
            "last_event_time": to_text(item.event.time),
            "stream_sequence": item.event.stream_sequence,
        }
        if key in stored:
            updates.append({"row_key": key, **values})
        else:
            inserts.append({"key": key, **values})
    if inserts:
        uow.session.execute(insert(REPLICA), inserts)
    if updates:
        uow.session.execute(UPDATE_REPLICA, updates)


def _advance_watermarks(uow: UnitOfWork, fresh: Sequence[ReplicaEvent]) -> None:
    marks = {
        row.site: row
        for row in uow.session.execute(select(WatermarkRow)).scalars()
    }
    for item in fresh:
        event = item.event
        row = marks.get(event.origin_site)
        if row is None:
            row = marks[event.origin_site] = WatermarkRow(site=event.origin_site)
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
