"""Persistence of master batch record versions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session, col
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb

from services.batch_records.domain import ListFilter, MasterBatchRecord, MbrState
from services.batch_records.tables import MasterBatchRecordRow
from services.batch_records.translate import record_from_proto, record_to_proto
from services.common.clock import to_text
from services.common.errors import NotFound


def _load(row: MasterBatchRecordRow) -> MasterBatchRecord:
    return record_from_proto(pb.MasterBatchRecord.FromString(row.document))


def get(session: Session, key: str) -> MasterBatchRecord:
    row = session.get(MasterBatchRecordRow, key)
    if row is None:
        raise NotFound("MASTER_BATCH_RECORD_NOT_FOUND", f"no master batch record {key}", key=key)
    return _load(row)


def latest(session: Session, record_id: str) -> MasterBatchRecord:
    row = session.execute(
        select(MasterBatchRecordRow)
        .where(col(MasterBatchRecordRow.record_id) == record_id)
        .order_by(col(MasterBatchRecordRow.version).desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(
            "MASTER_BATCH_RECORD_NOT_FOUND", f"no master batch record {record_id}",
            recordId=record_id,
        )
    return _load(row)


def effective(session: Session, record_id: str) -> MasterBatchRecord | None:
    row = session.execute(
        select(MasterBatchRecordRow).where(
            col(MasterBatchRecordRow.record_id) == record_id,
            col(MasterBatchRecordRow.state) == MbrState.EFFECTIVE.value,
        )
    ).scalar_one_or_none()
    return None if row is None else _load(row)


def next_record_number(session: Session) -> int:
    highest = session.execute(select(func.max(col(MasterBatchRecordRow.record_number)))).scalar()
    return (highest or 0) + 1


def save(session: Session, record: MasterBatchRecord, *, record_number: int = 0) -> None:
    """Inserts a new version (record_number given) or overwrites the stored one."""
    document = record_to_proto(record).SerializeToString()
    row = session.get(MasterBatchRecordRow, record.key)
    if row is None:
        session.add(
            MasterBatchRecordRow(
                key=record.key, record_id=record.record_id, record_number=record_number,
                version=record.version, home_site=record.home_site,
                product=record.content.product, state=record.state.value, document=document,
                update_time=to_text(record.update_time),
            )
        )
        return
    row.product, row.state, row.document = record.content.product, record.state.value, document
    row.update_time = to_text(record.update_time)


def record_number_of(session: Session, record_id: str) -> int:
    row = session.execute(
        select(col(MasterBatchRecordRow.record_number))
        .where(col(MasterBatchRecordRow.record_id) == record_id)
        .limit(1)
    ).scalar_one_or_none()
    return int(row or 0)


def page(
    session: Session, filters: ListFilter, *, after: tuple[int, int] | None, size: int
) -> list[MasterBatchRecord]:
    """Versions ordered by (record number, version), after the given position."""
    query = select(MasterBatchRecordRow)
    if filters.state is not None:
        query = query.where(col(MasterBatchRecordRow.state) == filters.state.value)
    if filters.product:
        query = query.where(col(MasterBatchRecordRow.product) == filters.product)
    if filters.record_id:
        query = query.where(col(MasterBatchRecordRow.record_id) == filters.record_id)
    if after is not None:
        number, version = after
        query = query.where(
            (col(MasterBatchRecordRow.record_number) > number)
            | (
                (col(MasterBatchRecordRow.record_number) == number)
                & (col(MasterBatchRecordRow.version) > version)
            )
        )
    query = query.order_by(
        col(MasterBatchRecordRow.record_number), col(MasterBatchRecordRow.version)
    ).limit(size)
    return [_load(row) for row in session.execute(query).scalars()]
