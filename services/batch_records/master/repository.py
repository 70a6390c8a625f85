"""Persistence of master batch record versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session, col
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb

from services.batch_records.master.domain import ListFilter, MasterBatchRecord, MbrState
from services.batch_records.master.translate import record_from_proto
from services.batch_records.tables import MasterBatchRecordRow, TransferredMasterRow
from services.common.domain.clock import to_text
from services.common.domain.errors import NotFound

# SQLAlchemy Core, not the ORM unit of work: one statement per read or write, nothing to flush.
TABLE = MasterBatchRecordRow.__table__  # type: ignore[attr-defined]
INSERT = insert(TABLE)
TRANSFERRED = TransferredMasterRow.__table__  # type: ignore[attr-defined]


def _load(row: Any) -> MasterBatchRecord:
    return record_from_proto(pb.MasterBatchRecord.FromString(row.document))


# Built once: SQLAlchemy reuses its compiled form.
DOCUMENT_OF_VERSION = select(TABLE.c.document).where(TABLE.c.key == bindparam("key"))


def get(session: Session, key: str) -> MasterBatchRecord:
    row = session.execute(DOCUMENT_OF_VERSION, {"key": key}).first()
    if row is None:
        raise NotFound("MASTER_BATCH_RECORD_NOT_FOUND", f"no master batch record {key}", key=key)
    return _load(row)


def latest(session: Session, record_id: str) -> MasterBatchRecord:
    row = session.execute(
        select(TABLE.c.document)
        .where(TABLE.c.record_id == record_id)
        .order_by(TABLE.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(
            "MASTER_BATCH_RECORD_NOT_FOUND", f"no master batch record {record_id}",
            recordId=record_id,
        )
    return _load(row)


def effective(session: Session, record_id: str) -> MasterBatchRecord | None:
    row = session.execute(
        select(TABLE.c.document).where(
            TABLE.c.record_id == record_id, TABLE.c.state == MbrState.EFFECTIVE.value
        )
    ).first()
    return None if row is None else _load(row)


def next_record_number(session: Session, group_memo: dict[str, Any]) -> int:
    """The number of the next new record. Read once per group commit, then counted on: the
    group holds the write lock, so nobody else can take a number meanwhile."""
    if "record_number" not in group_memo:
        highest = session.execute(select(func.max(TABLE.c.record_number))).scalar()
        group_memo["record_number"] = highest or 0
    group_memo["record_number"] += 1
    return int(group_memo["record_number"])


def add(
    session: Session, record: MasterBatchRecord, message: pb.MasterBatchRecord, *,
    record_number: int,
) -> None:
    """Inserts a new version; ``message`` is the record's protobuf form, which is stored."""
    session.execute(
        INSERT,
        {
            "key": record.key, "record_id": record.record_id, "record_number": record_number,
            "version": record.version, "home_site": record.home_site,
            "product": record.content.product, "state": record.state.value,
            "document": message.SerializeToString(), "update_time": to_text(record.update_time),
        },
    )


UPDATE = (
    update(TABLE)
    .where(TABLE.c.key == bindparam("target"))
    .values(product=bindparam("product"), state=bindparam("state"),
            document=bindparam("document"), update_time=bindparam("update_time"))
)


def replace(session: Session, record: MasterBatchRecord, message: pb.MasterBatchRecord) -> None:
    """Overwrites a stored version with its new state."""
    session.execute(
        UPDATE,
        {
            "target": record.key, "product": record.content.product,
            "state": record.state.value, "document": message.SerializeToString(),
            "update_time": to_text(record.update_time),
        },
    )


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


def transferred(session: Session, key: str) -> MasterBatchRecord | None:
    """Another site's version effective here by an accepted transfer, if it is."""
    row = session.execute(select(TRANSFERRED.c.document).where(TRANSFERRED.c.key == key)).first()
    return None if row is None else _load(row)


def put_transferred(session: Session, key: str, record: pb.MasterBatchRecord, *, package: str,
                    effective_time: str) -> bool:
    """Records the version effective here (once: True when it was not yet)."""
    if session.execute(select(TRANSFERRED.c.key).where(TRANSFERRED.c.key == key)).first():
        return False
    session.execute(insert(TRANSFERRED).values(
        key=key, home_site=record.home_site, package=package,
        document=record.SerializeToString(), effective_time=effective_time))
    return True
