"""Persistence of transfer packages and of this site's master records (SQLAlchemy Core)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session
from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.techtransfer.v1 import transfer_pb2 as pb

from services.common.domain.clock import to_text
from services.common.domain.errors import NotFound
from services.common.grpc.translate import moment
from services.tech_transfer.tables import KnownMasterRow, TransferPackageRow

PACKAGE = TransferPackageRow.__table__  # type: ignore[attr-defined]
MASTER = KnownMasterRow.__table__  # type: ignore[attr-defined]


def stored(session: Session, package_id: str) -> pb.TransferPackage:
    document = session.execute(select(PACKAGE.c.document).where(
        PACKAGE.c.package_id == package_id)).scalar()
    if document is None:
        raise NotFound("PACKAGE_NOT_FOUND", f"no transfer package {package_id} here",
                       packageId=package_id)
    return pb.TransferPackage.FromString(document)


def found(session: Session, package_id: str) -> pb.TransferPackage | None:
    document = session.execute(select(PACKAGE.c.document).where(
        PACKAGE.c.package_id == package_id)).scalar()
    return None if document is None else pb.TransferPackage.FromString(document)


def put(session: Session, message: pb.TransferPackage) -> None:
    row = {"document": message.SerializeToString(),
           "update_time": to_text(moment(message.update_time))}
    updated = session.execute(update(PACKAGE).where(
        PACKAGE.c.package_id == message.package_id).values(**row))
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.execute(insert(PACKAGE).values(
            package_id=message.package_id, number=int(message.package_id[-6:]),
            sending_site=message.sending_site, receiving_site=message.receiving_site, **row))


def next_number(session: Session, site: str, group_memo: dict[str, Any]) -> int:
    key = "package_number"
    if key not in group_memo:
        group_memo[key] = session.execute(select(func.max(PACKAGE.c.number)).where(
            PACKAGE.c.sending_site == site)).scalar() or 0
    group_memo[key] += 1
    return int(group_memo[key])


def page(session: Session, *, after: str | None,
         size: int) -> list[tuple[str, pb.TransferPackage]]:
    query = select(PACKAGE.c.package_id, PACKAGE.c.document)
    if after is not None:
        query = query.where(PACKAGE.c.package_id > after)
    rows = session.execute(query.order_by(PACKAGE.c.package_id).limit(size))
    return [(row.package_id, pb.TransferPackage.FromString(row.document)) for row in rows]


def master(session: Session, name: str) -> mbr_pb.MasterBatchRecord | None:
    document = session.execute(select(MASTER.c.document).where(MASTER.c.name == name)).scalar()
    return None if document is None else mbr_pb.MasterBatchRecord.FromString(document)


def put_master(session: Session, record: mbr_pb.MasterBatchRecord) -> None:
    """A version at its newest revision (an older or repeated event changes nothing); a
    master record's etag is "<version>-<revision>"."""
    revision = int(record.etag.rsplit("-", 1)[-1])
    held = session.execute(select(MASTER.c.revision).where(
        MASTER.c.name == record.name)).scalar()
    row = {"state": mbr_pb.MasterBatchRecordState.Name(record.state), "revision": revision,
           "document": record.SerializeToString()}
    if held is None:
        session.execute(insert(MASTER).values(name=record.name, **row))
    elif revision > held:
        session.execute(update(MASTER).where(MASTER.c.name == record.name).values(**row))


def effective_of_product(session: Session, product: str,
                         site: str) -> mbr_pb.MasterBatchRecord | None:
    """The version of ``product`` effective at ``site`` as known here: this site's own
    effective version (a receiving site knows its own), if any."""
    rows = session.execute(select(MASTER.c.document).where(
        MASTER.c.state == "MASTER_BATCH_RECORD_STATE_EFFECTIVE"))
    for row in rows:
        record = mbr_pb.MasterBatchRecord.FromString(row.document)
        if record.product == product and record.home_site == site:
            return record
    return None
