"""Process readings use cases: declare a tag, ingest points, read them back.

A tag's declaration is a decision: audited as one change, old → new, with its event. Points
are instrument data arriving by the thousand a second: a call's points are merged into their
chunks a flush at a time, and each chunk a flush changes gets one audit entry ("readings
ingested": its count, first and last time and the SHA-256 of its packed arrays), never one
per point (decision 0011). Excursions are decisions again: one audited change each start
and end, the start carrying the exception batch_records raises on the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlmodel import Session
from twinline.conjugation.v1 import readings_pb2 as pb
from twinline.events.v1 import conjugation_events_pb2 as event_pb

from services.common.domain.clock import to_text
from services.common.domain.errors import FailedPrecondition, NotFound
from services.common.domain.roles import Principal
from services.common.persistence.audit import AuditChange, canonical_json
from services.common.persistence.event_spec import publish_event, record_change
from services.common.persistence.unit_of_work import UnitOfWork
from services.conjugation.readings import events, repository
from services.conjugation.readings.domain.buckets import Bucket, Bucketing
from services.conjugation.readings.domain.chunks import (
    Chunk,
    Packed,
    decode_qualities,
    decode_times,
    decode_values,
)
from services.conjugation.readings.domain.excursions import Ended, ExcursionState, Started
from services.conjugation.readings.domain.ingest import Points, ingest_tag
from services.conjugation.readings.domain.tags import TAGS_PER_RUN, Limits, Tag
from services.conjugation.readings.names import tag_name
from services.conjugation.readings.translate import excursion_to_proto, moment_of, tag_to_proto
from services.conjugation.runs import repository as runs
from services.conjugation.runs.names import run_name

INGESTED = "readings.ingested"


def declare_tag(
    uow: UnitOfWork, *, principal: Principal, run_id: str, tag: str, description: str,
    unit: str, limits: Limits,
) -> Tag:
    """Declares a tag of an existing run, or changes its description, limits or dwell; its
    unit is fixed once declared (stored points are in it)."""
    batch = runs.batch_of(uow.session, run_id)
    if batch is None:
        raise NotFound("RUN_NOT_FOUND", f"no conjugation run {run_id}", runId=run_id)
    found = repository.tag(uow.session, run_id, tag)
    declared = Tag(run_id=run_id, tag=tag, description=description, unit=unit, limits=limits,
                   batch=batch)
    if found is None:
        if repository.tag_count(uow.session, run_id) >= TAGS_PER_RUN:
            raise FailedPrecondition("TOO_MANY_TAGS", f"{run_name(run_id)} has {TAGS_PER_RUN} "
                                     "tags, as many as a run may have", runId=run_id)
        repository.add_tag(uow.session, declared, to_text(uow.now))
    else:
        before = found[0]
        if before.unit != unit:
            raise FailedPrecondition(
                "TAG_UNIT_FIXED", f"tag {tag} of {run_name(run_id)} is in {before.unit}; its "
                f"unit cannot become {unit}", tag=tag, unit=before.unit,
            )
        if before == declared:
            return declared
        repository.replace_tag(uow.session, declared)
    stored = tag_to_proto(declared)
    record_change(
        uow, events.TAG_DECLARED, actor=principal.username, aggregate_id=f"{run_id}/{tag}",
        resource_name=tag_name(run_id, tag),
        old_state=None if found is None else tag_to_proto(found[0]), new_state=stored,
        tag=stored,
    )
    return declared


def tags_of(session: Session, run_id: str) -> dict[str, Tag]:
    """The run's declared tags by name; NotFound for no such run."""
    if runs.batch_of(session, run_id) is None:
        raise NotFound("RUN_NOT_FOUND", f"no conjugation run {run_id}", runId=run_id)
    return {name: tag for name, (tag, _) in repository.tags_of(session, run_id).items()}


@dataclass
class Ingested:
    """What one flush of a call's points did."""

    stored: int = 0
    duplicates: int = 0
    excursions_started: int = 0
    excursions_ended: int = 0

    def add(self, other: Ingested) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.excursions_started += other.excursions_started
        self.excursions_ended += other.excursions_ended


def _summary(packed: Packed | None) -> str:
    """A chunk in the audit trail: its count, first and last time, and its digest (a chunk's
    first point is at its start: no point before it ever goes in)."""
    if packed is None:
        return ""
    return canonical_json({"count": packed.count, "firstTimeUs": packed.start_us,
                           "lastTimeUs": packed.end_us, "sha256": packed.digest})


def ingest(
    uow: UnitOfWork, *, principal: Principal, run_id: str, points: dict[str, Points],
) -> Ingested:
    """Merges each tag's points into its chunks in one transaction: one audit entry per chunk
    changed, the excursions the new points start or end, the "latest" points."""
    tags = repository.tags_of(uow.session, run_id)
    done = Ingested()
    states: dict[str, ExcursionState] = {}
    for name, tag_points in points.items():
        tag, state = tags[name]
        chunks = repository.chunks_for(uow.session, run_id, name, min(tag_points.times),
                                       max(tag_points.times))
        result = ingest_tag(tag, state, chunks, tag_points)
        done.stored += result.merged.stored
        done.duplicates += result.merged.duplicates
        changed = [(chunk, chunk.packed()) for chunk in result.merged.chunks]
        repository.save_chunks(uow.session, run_id, name, changed)
        for chunk, packed in changed:
            _audit_chunk(uow, principal, tag, chunk, packed)
        for change in result.changes:
            _excursion(uow, principal, tag, change)
            if isinstance(change, Started):
                done.excursions_started += 1
            else:
                done.excursions_ended += 1
        if result.latest is not None:
            publish_event(uow, events.LATEST, resource_name=tag_name(run_id, name),
                          run=run_name(run_id), tag=name, time_us=result.latest.time_us,
                          value=result.latest.value, unit=tag.unit)
        if result.state != state:
            states[name] = result.state
    repository.save_states(uow.session, run_id, states)
    return done


def _audit_chunk(
    uow: UnitOfWork, principal: Principal, tag: Tag, chunk: Chunk, packed: Packed
) -> None:
    uow.audit(AuditChange(
        actor=principal.username, action=INGESTED, aggregate_type="readings",
        aggregate_id=f"{tag.run_id}/{tag.tag}/{packed.start_us}",
        old_value=_summary(chunk.before), new_value=_summary(packed),
    ))


def _excursion(uow: UnitOfWork, principal: Principal, tag: Tag, change: Started | Ended) -> None:
    message = excursion_to_proto(tag, change)
    aggregate_id = f"{tag.run_id}/{tag.tag}/{change.number}"
    if isinstance(change, Started):
        repository.add_excursion(uow.session, tag.run_id, tag.tag, change.number,
                                 change.first_out_us, message)
        exception = event_pb.ProcessException(
            batch=tag.batch, source=run_name(tag.run_id), major=True,
            description=_started_text(tag, change),
        )
        record_change(uow, events.EXCURSION_STARTED, actor=principal.username,
                      aggregate_id=aggregate_id, resource_name=message.name, old_state=None,
                      new_state=message, excursion=message, exception=exception)
        return
    before = excursion_to_proto(tag, Started(change.number, change.first_out_us,
                                             change.first_out_us, change.extreme))
    before.ClearField("duration")
    repository.end_excursion(uow.session, tag.run_id, tag.tag, change.number, change.end_us,
                             message)
    record_change(uow, events.EXCURSION_ENDED, actor=principal.username,
                  aggregate_id=aggregate_id, resource_name=message.name, old_state=before,
                  new_state=message, excursion=message)


def _limits_text(tag: Tag) -> str:
    low = "-" if tag.limits.low is None else f"{tag.limits.low:g}"
    high = "-" if tag.limits.high is None else f"{tag.limits.high:g}"
    return f"{low} .. {high} {tag.unit}"


def _started_text(tag: Tag, change: Started) -> str:
    first_out = to_text(moment_of(change.first_out_us))
    return (
        f"{tag.tag} of {run_name(tag.run_id)} outside its limits {_limits_text(tag)} since "
        f"{first_out}, for at least its dwell of {tag.limits.dwell_us / 1e6:g} s "
        f"(farthest so far {change.extreme:g} {tag.unit})"
    )


# --- reading -------------------------------------------------------------------------------

CHUNKS_PER_READ = 64
BEFORE_ALL = -(2**63)


@dataclass(frozen=True)
class Span:
    """Raw points of one chunk within the range asked."""

    times: list[int]
    values: list[float]
    qualities: list[int]


def read_points(
    session_of: Callable[[], AbstractContextManager[Session]], run_id: str, tag: str,
    start_us: int, end_us: int,
) -> Iterator[Span]:
    """The tag's points in [start_us, end_us), chunk by chunk, reading CHUNKS_PER_READ chunks
    per query, each in a read session of its own that ``session_of`` opens."""
    after = BEFORE_ALL
    while True:
        with session_of() as session:
            chunks = repository.chunks_in_range(session, run_id, tag, start_us, end_us, after,
                                                CHUNKS_PER_READ)
        for packed in chunks:
            times = decode_times(packed.times)
            values = decode_values(packed.values)
            qualities = decode_qualities(packed.qualities)
            if times[0] >= start_us and times[-1] < end_us:
                yield Span(times.tolist(), values.tolist(), qualities.tolist())
                continue
            keep = [index for index, time_us in enumerate(times) if start_us <= time_us < end_us]
            yield Span([times[i] for i in keep], [values[i] for i in keep],
                      [qualities[i] for i in keep])
        if len(chunks) < CHUNKS_PER_READ:
            return
        after = chunks[-1].start_us


def read_buckets(
    session_of: Callable[[], AbstractContextManager[Session]], run_id: str, tag: str,
    start_us: int, end_us: int, width_us: int, origin_us: int,
) -> Iterator[list[Bucket]]:
    """The tag's buckets in [start_us, end_us), as they complete."""
    bucketing = Bucketing(width_us, origin_us)
    for span in read_points(session_of, run_id, tag, start_us, end_us):
        completed = bucketing.add(span.times, span.values)
        if completed:
            yield completed
    yield bucketing.finish()


def excursions_of(session: Session, run_id: str) -> list[pb.Excursion]:
    if runs.batch_of(session, run_id) is None:
        raise NotFound("RUN_NOT_FOUND", f"no conjugation run {run_id}", runId=run_id)
    return repository.excursions_of(session, run_id)
