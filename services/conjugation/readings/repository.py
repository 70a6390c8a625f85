"""Persistence of tags, chunks and excursions (SQLAlchemy Core)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session
from twinline.conjugation.v1 import readings_pb2 as pb

from services.conjugation.readings.domain.chunks import Chunk, Packed
from services.conjugation.readings.domain.excursions import ExcursionState
from services.conjugation.readings.domain.tags import Limits, Tag
from services.conjugation.tables import ReadingChunkRow, ReadingExcursionRow, ReadingTagRow

TAG = ReadingTagRow.__table__  # type: ignore[attr-defined]
CHUNK = ReadingChunkRow.__table__  # type: ignore[attr-defined]
EXCURSION = ReadingExcursionRow.__table__  # type: ignore[attr-defined]

TAGS_OF_RUN = select(TAG).where(TAG.c.run_id == bindparam("run_id")).order_by(TAG.c.tag)
TAG_BY_KEY = select(TAG).where(TAG.c.run_id == bindparam("run_id"),
                               TAG.c.tag == bindparam("tag"))
UPDATE_TAG = update(TAG).where(TAG.c.run_id == bindparam("key_run"),
                               TAG.c.tag == bindparam("key_tag"))
UPDATE_STATE = (
    update(TAG).where(TAG.c.run_id == bindparam("key_run"), TAG.c.tag == bindparam("key_tag"))
    .values(state=bindparam("state"))
)
_OF_TAG = (CHUNK.c.run_id == bindparam("run_id"), CHUNK.c.tag == bindparam("tag"))
# The chunk a time belongs to: the one with the greatest start at or before it.
OWNER_START = select(func.max(CHUNK.c.chunk_start)).where(
    *_OF_TAG, CHUNK.c.chunk_start <= bindparam("time_us")
)
CHUNKS_FROM = (
    select(CHUNK).where(*_OF_TAG, CHUNK.c.chunk_start >= bindparam("first"),
                        CHUNK.c.chunk_start <= bindparam("last"))
    .order_by(CHUNK.c.chunk_start)
)
INSERT_CHUNK = insert(CHUNK)
UPDATE_CHUNK = (
    update(CHUNK)
    .where(CHUNK.c.run_id == bindparam("key_run"), CHUNK.c.tag == bindparam("key_tag"),
           CHUNK.c.chunk_start == bindparam("key_start"))
    .values(chunk_end=bindparam("chunk_end"), count=bindparam("count"),
            times=bindparam("times"), values=bindparam("values"),
            qualities=bindparam("qualities"), min=bindparam("min"), max=bindparam("max"))
)
# The chunks of a range [start, end): those starting before its end and ending at or after
# its start, in order, after a given chunk start.
CHUNKS_IN_RANGE = (
    select(CHUNK).where(*_OF_TAG, CHUNK.c.chunk_start < bindparam("end"),
                        CHUNK.c.chunk_end >= bindparam("start"),
                        CHUNK.c.chunk_start > bindparam("after"))
    .order_by(CHUNK.c.chunk_start).limit(bindparam("size"))
)
INSERT_EXCURSION = insert(EXCURSION)
END_EXCURSION = (
    update(EXCURSION)
    .where(EXCURSION.c.run_id == bindparam("key_run"), EXCURSION.c.tag == bindparam("key_tag"),
           EXCURSION.c.number == bindparam("key_number"))
    .values(end_us=bindparam("end_us"), document=bindparam("document"))
)
EXCURSIONS_OF_RUN = (
    select(EXCURSION.c.document).where(EXCURSION.c.run_id == bindparam("run_id"))
    .order_by(EXCURSION.c.start_us, EXCURSION.c.tag, EXCURSION.c.number)
)
COUNT_TAGS = select(func.count()).select_from(TAG).where(TAG.c.run_id == bindparam("run_id"))


def _tag(row: object) -> tuple[Tag, ExcursionState]:
    tag = Tag(
        run_id=row.run_id, tag=row.tag, description=row.description,  # type: ignore[attr-defined]
        unit=row.unit, batch=row.batch,  # type: ignore[attr-defined]
        limits=Limits(row.low_limit, row.high_limit, row.dwell_us),  # type: ignore[attr-defined]
    )
    return tag, ExcursionState.from_json(json.loads(row.state))  # type: ignore[attr-defined]


def tags_of(session: Session, run_id: str) -> dict[str, tuple[Tag, ExcursionState]]:
    return {row.tag: _tag(row) for row in session.execute(TAGS_OF_RUN, {"run_id": run_id})}


def tag(session: Session, run_id: str, name: str) -> tuple[Tag, ExcursionState] | None:
    row = session.execute(TAG_BY_KEY, {"run_id": run_id, "tag": name}).first()
    return None if row is None else _tag(row)


def tag_count(session: Session, run_id: str) -> int:
    return int(session.execute(COUNT_TAGS, {"run_id": run_id}).scalar_one())


def _tag_values(tag: Tag) -> dict[str, object]:
    return {"batch": tag.batch, "description": tag.description, "unit": tag.unit,
            "low_limit": tag.limits.low, "high_limit": tag.limits.high,
            "dwell_us": tag.limits.dwell_us}


def add_tag(session: Session, tag: Tag, declare_time: str) -> None:
    session.execute(insert(TAG), {
        "run_id": tag.run_id, "tag": tag.tag, **_tag_values(tag),
        "state": json.dumps(ExcursionState().to_json()), "declare_time": declare_time,
    })


def replace_tag(session: Session, tag: Tag) -> None:
    session.execute(UPDATE_TAG.values(**_tag_values(tag)),
                    {"key_run": tag.run_id, "key_tag": tag.tag})


def save_states(session: Session, run_id: str, states: dict[str, ExcursionState]) -> None:
    if states:
        session.execute(UPDATE_STATE, [
            {"key_run": run_id, "key_tag": name, "state": json.dumps(state.to_json())}
            for name, state in states.items()
        ])


def _packed(row: object) -> Packed:
    return Packed(
        start_us=row.chunk_start, end_us=row.chunk_end, count=row.count,  # type: ignore[attr-defined]
        times=row.times, values=row.values, qualities=row.qualities,  # type: ignore[attr-defined]
        low=row.min, high=row.max,  # type: ignore[attr-defined]
    )


def chunks_for(
    session: Session, run_id: str, tag: str, first_us: int, last_us: int
) -> list[Packed]:
    """The chunks that may hold a time within [first_us, last_us]: the one that owns
    ``first_us`` and every one starting after it up to ``last_us``."""
    key = {"run_id": run_id, "tag": tag}
    owner = session.execute(OWNER_START, {**key, "time_us": first_us}).scalar()
    rows = session.execute(CHUNKS_FROM, {**key, "first": first_us if owner is None else owner,
                                         "last": last_us})
    return [_packed(row) for row in rows]


def save_chunks(
    session: Session, run_id: str, tag: str, chunks: Sequence[tuple[Chunk, Packed]]
) -> None:
    """Each changed chunk with its packed form: inserted when new, else updated in place."""
    added, changed = [], []
    for chunk, packed in chunks:
        values = {"chunk_end": packed.end_us, "count": packed.count, "times": packed.times,
                  "values": packed.values, "qualities": packed.qualities, "min": packed.low,
                  "max": packed.high}
        if chunk.before is None:
            added.append({"run_id": run_id, "tag": tag, "chunk_start": packed.start_us,
                          **values})
        else:
            changed.append({"key_run": run_id, "key_tag": tag, "key_start": packed.start_us,
                            **values})
    if added:
        session.execute(INSERT_CHUNK, added)
    if changed:
        session.execute(UPDATE_CHUNK, changed)


def chunks_in_range(
    session: Session, run_id: str, tag: str, start_us: int, end_us: int, after_start: int,
    size: int,
) -> list[Packed]:
    rows = session.execute(CHUNKS_IN_RANGE, {
        "run_id": run_id, "tag": tag, "start": start_us, "end": end_us, "after": after_start,
        "size": size,
    })
    return [_packed(row) for row in rows]


def add_excursion(session: Session, run_id: str, tag: str, number: int, start_us: int,
                  document: pb.Excursion) -> None:
    session.execute(INSERT_EXCURSION, {
        "run_id": run_id, "tag": tag, "number": number, "start_us": start_us, "end_us": None,
        "document": document.SerializeToString(),
    })


def end_excursion(session: Session, run_id: str, tag: str, number: int, end_us: int,
                  document: pb.Excursion) -> None:
    session.execute(END_EXCURSION, {
        "key_run": run_id, "key_tag": tag, "key_number": number, "end_us": end_us,
        "document": document.SerializeToString(),
    })


def excursions_of(session: Session, run_id: str) -> list[pb.Excursion]:
    return [pb.Excursion.FromString(document)
            for document in session.execute(EXCURSIONS_OF_RUN, {"run_id": run_id}).scalars()]
