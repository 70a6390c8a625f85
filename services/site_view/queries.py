"""The read side of the view: lookups and pages over the replica tables, never writing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlmodel import Session, col
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb

from services.batch_records.domain import version_key
from services.common.errors import NotFound
from services.site_view import domain
from services.site_view.handlers import watermark_of
from services.site_view.tables import ReplicaMasterBatchRecordRow, WatermarkRow

# Where a page ends: (home site, record id, version) of its last record.
Position = tuple[str, str, int]


@dataclass(frozen=True)
class RecordFilter:
    site: str = ""  # home site; empty: all
    record_id: str = ""  # empty: all


def get(session: Session, record_id: str, version: int | None) -> pb.MasterBatchRecord:
    """One version, or the highest version the view holds when ``version`` is None."""
    if version is None:
        row = session.execute(
            select(ReplicaMasterBatchRecordRow)
            .where(col(ReplicaMasterBatchRecordRow.record_id) == record_id)
            .order_by(col(ReplicaMasterBatchRecordRow.version).desc())
            .limit(1)
        ).scalar_one_or_none()
    else:
        row = session.get(ReplicaMasterBatchRecordRow, version_key(record_id, version))
    if row is None:
        shown = "latest" if version is None else str(version)
        raise NotFound(
            "MASTER_BATCH_RECORD_NOT_FOUND",
            f"this site's view holds no masterBatchRecords/{record_id}/versions/{shown}",
            recordId=record_id, version=shown,
        )
    return pb.MasterBatchRecord.FromString(row.document)


def page(
    session: Session, filters: RecordFilter, *, after: Position | None, size: int
) -> list[tuple[Position, pb.MasterBatchRecord]]:
    """Up to ``size`` records after ``after``, by home site, record id and version."""
    replica = ReplicaMasterBatchRecordRow
    order = (col(replica.home_site), col(replica.record_id), col(replica.version))
    query = select(replica).order_by(*order).limit(size)
    if filters.site:
        query = query.where(col(replica.home_site) == filters.site)
    if filters.record_id:
        query = query.where(col(replica.record_id) == filters.record_id)
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    return [
        ((row.home_site, row.record_id, row.version), pb.MasterBatchRecord.FromString(row.document))
        for row in session.execute(query).scalars()
    ]


def watermarks(session: Session, site_ids: list[str]) -> list[domain.Watermark]:
    """One per site of ``site_ids`` (zero if nothing came yet), then any other origin seen."""
    rows = session.execute(select(WatermarkRow)).scalars()
    stored = {row.site: watermark_of(row) for row in rows}
    listed = [stored.pop(site_id, domain.Watermark(site_id)) for site_id in site_ids]
    return listed + sorted(stored.values(), key=lambda mark: mark.site)
