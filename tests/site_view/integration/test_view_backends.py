"""The site view's handler on both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.common.v1 import quantity_pb2
from twinline.conjugation.v1 import run_pb2
from twinline.events.v1 import batch_events_pb2 as batch_events
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events

from services.common.messaging.events import OutboxEvent, decode, new_event
from services.common.messaging.subjects import event_subject
from services.common.persistence.database import (
    read_session,
)
from services.common.persistence.writer import Writer
from services.site_view import handlers, queries
from tests.support.databases import (
    SITE,
    T0,
)
from tests.support.replica_events import (
    RUN_ID,
    TAG,
    latest_reading,
    phase_started,
    run_at,
    run_created,
)

pytestmark = pytest.mark.timeout(60)


def origin_event(payload: object, site: str, aggregate: str, suffix: str, name: str,
                 time: datetime) -> OutboxEvent:
    return new_event(
        subject=event_subject(site, "batchrecords", aggregate, suffix), payload=payload,  # type: ignore[arg-type]
        source=f"twinline/{site}/batch_records", ce_subject=name, time=time,
    )


def mbr_at(revision: int, state: pb.MasterBatchRecordState.ValueType, record_id: str,
           site: str = SITE) -> pb.MasterBatchRecord:
    return pb.MasterBatchRecord(
        name=f"masterBatchRecords/{record_id}/versions/1", record_id=record_id, version=1,
        home_site=site, state=state, etag=f"1-{revision}", product="TWX-101",
    )


def batch_at(revision: int, state: batch_pb2.BatchState.ValueType, *lots: str) -> batch_pb2.Batch:
    step = batch_pb2.StepExecution(
        step_id="S1",
        materials=[
            batch_pb2.MaterialAddition(material="TCEP", lot_id=lot,
                                       quantity=quantity_pb2.Quantity(value="1.25", unit="kg"))
            for lot in lots
        ],
    )
    return batch_pb2.Batch(
        name="batches/SDO-B-2026-00001", batch_id="SDO-B-2026-00001", home_site="songdo",
        master_batch_record="masterBatchRecords/SDO-MBR-000001/versions/1", state=state,
        steps=[step], etag=str(revision),
    )


async def test_the_site_view_takes_in_events_once_and_keeps_the_newest(
    engine: Engine, writer: Writer
) -> None:
    sequence = iter(range(1, 100))
    outgoing = [
        origin_event(mbr_events.MasterBatchRecordCreated(
            master_batch_record=mbr_at(1, pb.MASTER_BATCH_RECORD_STATE_DRAFT, "SYR-MBR-000001")),
            SITE, "master_batch_record", "created", "m1", T0),
        origin_event(mbr_events.MasterBatchRecordApproved(
            master_batch_record=mbr_at(3, pb.MASTER_BATCH_RECORD_STATE_APPROVED, "SYR-MBR-000001")),
            SITE, "master_batch_record", "approved", "m1", T0 + timedelta(seconds=2)),
        # Late: must not take the view back.
        origin_event(mbr_events.MasterBatchRecordSubmitted(master_batch_record=mbr_at(
            2, pb.MASTER_BATCH_RECORD_STATE_IN_REVIEW, "SYR-MBR-000001")),
            SITE, "master_batch_record", "submitted", "m1", T0 + timedelta(seconds=1)),
        origin_event(batch_events.BatchCreated(
            batch=batch_at(1, batch_pb2.BATCH_STATE_CREATED)),
            "songdo", "batch", "created", "b1", T0),
        origin_event(batch_events.BatchStepRecorded(
            batch=batch_at(2, batch_pb2.BATCH_STATE_IN_PROGRESS, "L-1", "L-2"), step_ids=["S1"]),
            "songdo", "batch", "step_recorded", "b1", T0 + timedelta(seconds=3)),
    ]
    replicas = [
        handlers.replica_event(decode(item.subject, item.headers, item.payload, next(sequence)))
        for item in outgoing
    ]
    assert await writer.run(lambda uow: handlers.apply_events(uow, replicas[:2])) == 2
    assert await writer.run(lambda uow: handlers.apply_events(uow, replicas)) == 3
    assert await writer.run(lambda uow: handlers.apply_events(uow, replicas)) == 0
    # A correction drops a lot: the batch's genealogy rows are rewritten with it.
    corrected = origin_event(batch_events.BatchValueCorrected(
        batch=batch_at(3, batch_pb2.BATCH_STATE_IN_PROGRESS, "L-2")),
        "songdo", "batch", "value_corrected", "b1", T0 + timedelta(seconds=4))
    replica = handlers.replica_event(
        decode(corrected.subject, corrected.headers, corrected.payload, next(sequence))
    )
    assert await writer.run(lambda uow: handlers.apply_events(uow, [replica])) == 1

    with read_session(engine) as session:
        held = queries.get(session, "SYR-MBR-000001", None)
        assert held.state == pb.MASTER_BATCH_RECORD_STATE_APPROVED and held.etag == "1-3"
        batch = queries.get_batch(session, "SDO-B-2026-00001")
        assert batch.etag == "3" and batch.state == batch_pb2.BATCH_STATE_IN_PROGRESS
        assert [c.batch_id for _, c in queries.lot_consumptions(session, "L-1")] == []
        assert [(c.batch_id, c.quantity, c.unit, c.batch_state)
                for _, c in queries.lot_consumptions(session, "L-2")] == [
            ("SDO-B-2026-00001", "1.25", "kg", "in_progress")
        ]
        pages = queries.page(session, queries.RecordFilter(), after=None, size=10)
        assert [position for position, _ in pages] == [(SITE, "SYR-MBR-000001", 1)]
        marks = {mark.site: mark for mark in queries.watermarks(session, [SITE, "songdo"])}
    assert (marks[SITE].stream_sequence, marks[SITE].events_applied) == (3, 3)
    assert (marks["songdo"].stream_sequence, marks["songdo"].events_applied) == (6, 3)
    assert marks["songdo"].last_event_time == T0 + timedelta(seconds=4)



async def test_the_site_view_keeps_the_newest_run_and_the_latest_point_of_each_tag(
    engine: Engine, writer: Writer
) -> None:
    sequence = iter(range(1, 100))

    def taken(*events: OutboxEvent) -> list[handlers.ReplicaEvent]:
        return [
            handlers.replica_event(decode(item.subject, item.headers, item.payload, next(sequence)))
            for item in events
        ]

    songdo_run = run_at(
        1, run_pb2.PHASE_SETUP, run_id="SDO-CR-000001", home_site="songdo",
        batch_id="SDO-B-2026-00001",
    )
    first = taken(
        run_created(run_at(1, run_pb2.PHASE_SETUP)),
        phase_started(run_at(3, run_pb2.PHASE_CONJUGATION), T0 + timedelta(minutes=2)),
        run_created(songdo_run),
        latest_reading(2_000_000, 24.0),
        latest_reading(1_000_000, 23.0),  # earlier, in the same fetch: not the latest
        latest_reading(1_000_000, 7.2, tag="R201.PH01", unit="[pH]"),
    )
    assert await writer.run(lambda uow: handlers.apply_events(uow, first)) == 3
    # Late and repeated: an older revision and an older point must not take the view back; a
    # redelivered run event is not taken in again.
    late = taken(
        phase_started(run_at(2, run_pb2.PHASE_REDUCTION), T0 + timedelta(minutes=1)),
        latest_reading(1_500_000, 99.0),
        latest_reading(3_000_000, 7.3, tag="R201.PH01", unit="[pH]"),
    )
    assert await writer.run(lambda uow: handlers.apply_events(uow, late + first[:1])) == 1

    with read_session(engine) as session:
        held = queries.get_run(session, RUN_ID)
        everything = queries.run_page(session, queries.RunFilter(), after=None, size=10)
        by_batch = queries.run_page(
            session, queries.RunFilter(batch_id="SDO-B-2026-00001"), after=None, size=10
        )
        after_first = queries.run_page(
            session, queries.RunFilter(), after=everything[0][0], size=10
        )
        marks = {mark.site: mark for mark in queries.watermarks(session, [SITE, "songdo"])}
    assert (held.run.phase, held.run.etag, held.home_site) == (run_pb2.PHASE_CONJUGATION, "3", SITE)
    assert [(r.tag, r.time_us, r.value, r.unit) for r in held.latest] == [
        ("R201.PH01", 3_000_000, 7.3, "[pH]"), (TAG, 2_000_000, 24.0, "Cel"),
    ]
    assert [position for position, _ in everything] == [
        ("songdo", "SDO-CR-000001"), (SITE, RUN_ID),
    ]
    assert [position for position, _ in by_batch] == [("songdo", "SDO-CR-000001")]
    assert [position for position, _ in after_first] == [(SITE, RUN_ID)]
    # Run events count once each; latest readings move the mark but are not counted.
    assert (marks[SITE].events_applied, marks[SITE].stream_sequence) == (3, 9)
    assert marks["songdo"].events_applied == 1


# --- the user directory -------------------------------------------------------------------

