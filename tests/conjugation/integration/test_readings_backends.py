"""The chunk store on both backends (SQLite and PostgreSQL): 100,000 points stored and read
back identical, a resend stored once, one audit entry per chunk change, one excursion."""

from __future__ import annotations

import functools
import json

import pytest
from sqlalchemy import Engine, select
from twinline.events.v1 import conjugation_events_pb2 as event_pb

from services.common.domain.errors import FailedPrecondition, NotFound
from services.common.domain.roles import Principal, Role
from services.common.persistence.audit import verify_chain
from services.common.persistence.database import read_session
from services.common.persistence.tables import AuditEntryRow, OutboxRow
from services.common.persistence.writer import Writer
from services.conjugation.readings import handlers
from services.conjugation.readings.domain.chunks import CHUNK_POINTS
from services.conjugation.readings.domain.ingest import Points
from services.conjugation.readings.domain.tags import Limits
from services.conjugation.tables import ReadingChunkRow
from tests.conjugation.integration.conftest import ENGINEER
from tests.support.databases import SITE

pytestmark = pytest.mark.timeout(120)
S = 1_000_000
START = 1_772_614_800 * S  # 2026-03-04T09:00:00Z
BRIDGE = Principal("syracuse.bridge", "OPC UA bridge", frozenset({Role.INTEGRATION}), SITE)
TAG = "R201.TT01"
FLUSH = 5_000


LIMITS = Limits(20.0, 25.0, 30 * S)


async def declare(writer: Writer, run_id: str, limits: Limits = LIMITS, tag: str = TAG,
                  unit: str = "Cel") -> None:
    await writer.run(lambda uow: handlers.declare_tag(
        uow, principal=ENGINEER, run_id=run_id, tag=tag, description="reactor temperature",
        unit=unit, limits=limits,
    ))


async def ingest(writer: Writer, run_id: str, times: list[int], values: list[float],
                 tag: str = TAG) -> handlers.Ingested:
    """The points a flush at a time, as StreamReadings hands them to the writer."""
    done = handlers.Ingested()
    for start in range(0, len(times), FLUSH):
        points = Points(times[start:start + FLUSH], values[start:start + FLUSH],
                        [1] * len(times[start:start + FLUSH]))
        done.add(await writer.run(functools.partial(
            handlers.ingest, principal=BRIDGE, run_id=run_id, points={tag: points})))
    return done


def read_back(engine: Engine, run_id: str, start: int, end: int) -> list[tuple[int, float]]:
    opened = functools.partial(read_session, engine)
    return [point for span in handlers.read_points(opened, run_id, TAG, start, end)
            for point in zip(span.times, span.values, strict=True)]


def subjects(engine: Engine) -> list[str]:
    with read_session(engine) as session:
        return list(session.execute(select(OutboxRow.subject).order_by(OutboxRow.position))
                    .scalars())


async def test_100000_points_stored_whole_and_read_back_by_range(
    engine: Engine, writer: Writer, run_id: str
) -> None:
    await declare(writer, run_id, Limits(None, None, 0))
    times = [START + index * 10_000 for index in range(100_000)]  # 100 Hz, 1,000 s
    values = [20.0 + (index % 977) / 1000 for index in range(100_000)]
    done = await ingest(writer, run_id, times, values)
    assert (done.stored, done.duplicates) == (100_000, 0)
    assert read_back(engine, run_id, START, START + 1000 * S) == list(
        zip(times, values, strict=True))
    # A range inside: [100 s, 250.5 s) holds the points from index 10,000 to 25,049.
    assert read_back(engine, run_id, START + 100 * S, START + 250_500_000) == list(
        zip(times[10_000:25_050], values[10_000:25_050], strict=True))
    with read_session(engine) as session:
        counts = list(session.execute(select(ReadingChunkRow.count)).scalars())
        entries = list(session.execute(
            select(AuditEntryRow).where(AuditEntryRow.action == handlers.INGESTED)).scalars())
        assert verify_chain(session).intact
    assert sum(counts) == 100_000 and max(counts) <= CHUNK_POINTS
    # One entry per chunk a flush changed: at least one per chunk, never one per point.
    assert len(counts) <= len(entries) < 2 * len(counts) + 100_000 // FLUSH
    last = json.loads(entries[-1].new_value)
    assert last["lastTimeUs"] == times[-1] and len(last["sha256"]) == 64
    assert entries[-1].actor == BRIDGE.username


async def test_a_buffer_sent_twice_stores_each_point_once(
    engine: Engine, writer: Writer, run_id: str
) -> None:
    await declare(writer, run_id)
    times = [START + index * S for index in range(1_000)]
    values = [22.0] * 1_000
    first = await ingest(writer, run_id, times, values)
    again = await ingest(writer, run_id, [*times[500:], START + 1000 * S], [*values[500:], 23.0])
    assert (first.stored, first.duplicates) == (1_000, 0)
    assert (again.stored, again.duplicates) == (1, 500)
    assert len(read_back(engine, run_id, START, START + 2_000 * S)) == 1_001


async def test_held_out_past_the_dwell_makes_one_excursion_and_a_blip_none(
    engine: Engine, writer: Writer, run_id: str
) -> None:
    await declare(writer, run_id)  # 20 .. 25 Cel, dwell 30 s
    # 1 point a second: a 10 s blip at 100 s, then 26.5-27 Cel from 200 s to 259 s.
    values = [22.0] * 400
    values[100:110] = [30.0] * 10
    values[200:260] = [26.5 + (index % 2) / 2 for index in range(60)]
    times = [START + index * S for index in range(400)]
    done = await ingest(writer, run_id, times[:230], values[:230])
    done.add(await ingest(writer, run_id, times[230:], values[230:]))
    # And the whole lot again: resends raise nothing more.
    done.add(await ingest(writer, run_id, times, values))
    assert (done.excursions_started, done.excursions_ended) == (1, 1)
    sent = subjects(engine)
    prefix = f"twinline.{SITE}.conjugation.readings."
    assert sent.count(prefix + "excursion_started") == 1
    assert sent.count(prefix + "excursion_ended") == 1
    with read_session(engine) as session:
        excursions = handlers.excursions_of(session, run_id)
        started = session.execute(select(OutboxRow.payload).where(
            OutboxRow.subject == prefix + "excursion_started")).scalar_one()
    assert len(excursions) == 1
    excursion = excursions[0]
    assert excursion.start_time.ToSeconds() == (START + 200 * S) // S
    assert excursion.end_time.ToSeconds() == (START + 260 * S) // S
    assert (excursion.extreme_value, excursion.duration.seconds) == (27.0, 60)
    assert excursion.name == f"conjugationRuns/{run_id}/tags/{TAG}/excursions/1"
    exception = event_pb.ExcursionStarted.FromString(started).exception
    assert exception.batch == "batches/SYR-B-2026-00001" and exception.major
    assert exception.source == f"conjugationRuns/{run_id}"
    assert TAG in exception.description and "20 .. 25 Cel" in exception.description
    assert "2026-03-04T09:03:20" in exception.description and "30 s" in exception.description
    # "latest": at most once per 5 s of source time, not per point (400 s of points).
    assert 1 <= sent.count(prefix + "latest") <= 400 // 5 + 1


async def test_a_tag_needs_its_run_and_keeps_its_unit(writer: Writer, run_id: str) -> None:
    with pytest.raises(NotFound, match="SYR-CR-000099"):
        await declare(writer, "SYR-CR-000099")
    await declare(writer, run_id)
    await declare(writer, run_id, Limits(19.0, 26.0, 60 * S))  # limits may change
    with pytest.raises(FailedPrecondition) as refused:
        await declare(writer, run_id, unit="[degF]")
    assert refused.value.reason == "TAG_UNIT_FIXED"
