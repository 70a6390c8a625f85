"""Persistence of executed batch records (SQLAlchemy Core)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session
from twinline.batchrecords.v1 import batch_pb2 as pb

from services.batch_records.batches.domain import Batch, BatchState
from services.batch_records.batches.translate import batch_from_proto
from services.batch_records.tables import BatchRow
from services.common.domain.clock import to_text
from services.common.domain.errors import NotFound

BATCH = BatchRow.__table__  # type: ignore[attr-defined]
INSERT_BATCH = insert(BATCH)


# Built once: SQLAlchemy reuses its compiled form.
DOCUMENT_OF_BATCH = select(BATCH.c.document).where(BATCH.c.batch_id == bindparam("batch_id"))


def get(session: Session, batch_id: str) -> Batch:
    row = session.execute(DOCUMENT_OF_BATCH, {"batch_id": batch_id}).first()
    if row is None:
        raise NotFound("BATCH_NOT_FOUND", f"no batch {batch_id}", batchId=batch_id)
    return batch_from_proto(pb.Batch.FromString(row.document))


def next_number(session: Session, year: int, group_memo: dict[str, Any]) -> int:
    """The next batch number of ``year``, counted within the group commit like record numbers."""
    key = f"batch_number_{year}"
    if key not in group_memo:
        highest = session.execute(
            select(func.max(BATCH.c.number)).where(BATCH.c.year == year)
        ).scalar()
        group_memo[key] = highest or 0
    group_memo[key] += 1
    return int(group_memo[key])


def add(session: Session, batch: Batch, message: pb.Batch, *, year: int, number: int) -> None:
    session.execute(
        INSERT_BATCH,
        {
            "batch_id": batch.batch_id, "year": year, "number": number,
            "state": batch.state.value, "document": message.SerializeToString(),
            "update_time": to_text(batch.update_time),
        },
    )


UPDATE_BATCH = (
    update(BATCH)
    .where(BATCH.c.batch_id == bindparam("target"))
    .values(state=bindparam("state"), document=bindparam("document"),
            update_time=bindparam("update_time"))
)


def replace(session: Session, batch: Batch, message: pb.Batch) -> None:
    session.execute(
        UPDATE_BATCH,
        {
            "target": batch.batch_id, "state": batch.state.value,
            "document": message.SerializeToString(), "update_time": to_text(batch.update_time),
        },
    )


def page(
    session: Session, *, state: BatchState | None, after: tuple[int, int] | None, size: int
) -> list[tuple[int, int, Batch]]:
    """Batches ordered by (year, number), after the given position."""
    query = select(BATCH.c.year, BATCH.c.number, BATCH.c.document)
    if state is not None:
        query = query.where(BATCH.c.state == state.value)
    if after is not None:
        year, number = after
        query = query.where(
            (BATCH.c.year > year) | ((BATCH.c.year == year) & (BATCH.c.number > number))
        )
    query = query.order_by(BATCH.c.year, BATCH.c.number).limit(size)
    return [
        (row.year, row.number, batch_from_proto(pb.Batch.FromString(row.document)))
        for row in session.execute(query)
    ]
