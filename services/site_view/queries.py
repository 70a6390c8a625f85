"""The read side of the view: lookups and pages over the replica tables, never writing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, tuple_
from sqlmodel import Session, col
from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.conjugation.v1 import run_pb2
from twinline.releasetesting.v1 import sample_pb2
from twinline.techtransfer.v1 import transfer_pb2

from services.batch_records.master.names import version_key
from services.common.domain.clock import from_text
from services.common.domain.errors import NotFound
from services.site_view import domain
from services.site_view.tables import (
    ChangeLogRow,
    ReplicaBatchMaterialRow,
    ReplicaBatchRow,
    ReplicaDispositionRow,
    ReplicaInvestigationRow,
    ReplicaLatestRow,
    ReplicaMasterBatchRecordRow,
    ReplicaMasterEffectivityRow,
    ReplicaRunRow,
    ReplicaSampleRow,
    ReplicaTransferPackageRow,
    WatermarkRow,
)

# Where a page ends: (home site, record id, version) of its last record.
Position = tuple[str, str, int]
# Where a page of batches ends: (home site, batch id) of its last batch.
BatchPosition = tuple[str, str]


@dataclass(frozen=True)
class RecordFilter:
    site: str = ""  # home site; empty: all
    record_id: str = ""  # empty: all


REPLICA = ReplicaMasterBatchRecordRow.__table__  # type: ignore[attr-defined]
# Built once (SQLAlchemy reuses their compiled form); Core, as only the document is needed.
DOCUMENT_OF_VERSION = select(REPLICA.c.document).where(REPLICA.c.key == bindparam("key"))
DOCUMENT_OF_LATEST = (
    select(REPLICA.c.document)
    .where(REPLICA.c.record_id == bindparam("record_id"))
    .order_by(REPLICA.c.version.desc())
    .limit(1)
)


def get(session: Session, record_id: str, version: int | None) -> pb.MasterBatchRecord:
    """One version, or the highest version the view holds when ``version`` is None."""
    if version is None:
        row = session.execute(DOCUMENT_OF_LATEST, {"record_id": record_id}).first()
    else:
        row = session.execute(
            DOCUMENT_OF_VERSION, {"key": version_key(record_id, version)}
        ).first()
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


@dataclass(frozen=True)
class HeldEffectivity:
    """One site where a version is effective, as the view holds it."""

    name: str  # "masterBatchRecords/SYR-MBR-000001/versions/2"
    site: str
    package: str  # empty at the version's home site
    effective_time: str  # UTC text


EFFECTIVITY = ReplicaMasterEffectivityRow.__table__  # type: ignore[attr-defined]
EFFECTIVITY_OF = (
    select(EFFECTIVITY.c.name, EFFECTIVITY.c.site, EFFECTIVITY.c.package,
           EFFECTIVITY.c.effective_time)
    .where(EFFECTIVITY.c.name.in_(bindparam("names", expanding=True)))
    .order_by(EFFECTIVITY.c.name, EFFECTIVITY.c.site)
)


def effectivity(session: Session, names: list[str]) -> list[HeldEffectivity]:
    """Every site where the versions named are effective, by version in ``names`` order, then
    site."""
    if not names:
        return []
    found: dict[str, list[HeldEffectivity]] = {}
    for row in session.execute(EFFECTIVITY_OF, {"names": sorted(set(names))}):
        found.setdefault(row.name, []).append(
            HeldEffectivity(row.name, row.site, row.package, row.effective_time)
        )
    return [held for name in dict.fromkeys(names) for held in found.get(name, [])]


@dataclass(frozen=True)
class BatchFilter:
    site: str = ""  # home site; empty: all
    state: str = ""  # as the replica stores it, "in_progress"; empty: all


@dataclass(frozen=True)
class LotConsumption:
    """One addition of a lot to a step of a batch, with the batch's state."""

    batch_id: str
    home_site: str
    step_id: str
    material: str
    quantity: str  # decimal, as recorded
    unit: str
    batch_state: str


BATCH = ReplicaBatchRow.__table__  # type: ignore[attr-defined]
DOCUMENT_OF_BATCH = select(BATCH.c.document).where(BATCH.c.batch_id == bindparam("batch_id"))


def get_batch(session: Session, batch_id: str) -> batch_pb2.Batch:
    row = session.execute(DOCUMENT_OF_BATCH, {"batch_id": batch_id}).first()
    if row is None:
        raise NotFound(
            "BATCH_NOT_FOUND", f"this site's view holds no batches/{batch_id}", batchId=batch_id
        )
    return batch_pb2.Batch.FromString(row.document)


def batch_page(
    session: Session, filters: BatchFilter, *, after: BatchPosition | None, size: int
) -> list[tuple[BatchPosition, bytes]]:
    """Up to ``size`` batches after ``after``, by home site and batch id, as stored (the
    serialized Batch), so that the caller can weigh them before decoding."""
    replica = ReplicaBatchRow
    order = (col(replica.home_site), col(replica.batch_id))
    query = select(col(replica.home_site), col(replica.batch_id), col(replica.document))
    query = query.order_by(*order).limit(size)
    if filters.site:
        query = query.where(col(replica.home_site) == filters.site)
    if filters.state:
        query = query.where(col(replica.state) == filters.state)
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    return [
        ((home_site, batch_id), document)
        for home_site, batch_id, document in session.execute(query)
    ]


# Where a page of a lot's consumptions ends: (home site, batch id, line) of its last one.
ConsumptionPosition = tuple[str, str, int]


def lot_consumptions(
    session: Session, lot_id: str, *, after: ConsumptionPosition | None = None,
    size: int | None = None,
) -> list[tuple[ConsumptionPosition, LotConsumption]]:
    """The additions of the lot to a step of a batch the view holds, of any site: up to
    ``size`` (None: all) after ``after``, by home site, batch id and line."""
    material, batch = ReplicaBatchMaterialRow, ReplicaBatchRow
    order = (col(material.home_site), col(material.batch_id), col(material.line))
    query = (
        select(material, col(batch.state))
        .join(batch, col(batch.batch_id) == col(material.batch_id))
        .where(col(material.lot_id) == lot_id)
        .order_by(*order)
    )
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    if size is not None:
        query = query.limit(size)
    return [
        (
            (row.home_site, row.batch_id, row.line),
            LotConsumption(
                batch_id=row.batch_id, home_site=row.home_site, step_id=row.step_id,
                material=row.material, quantity=row.quantity, unit=row.unit,
                batch_state=state,
            ),
        )
        for row, state in session.execute(query)
    ]


# Where a page of runs ends: (home site, run id) of its last run.
RunPosition = tuple[str, str]


@dataclass(frozen=True)
class RunFilter:
    site: str = ""  # home site; empty: all
    batch_id: str = ""  # empty: all


@dataclass(frozen=True)
class HeldRun:
    """A run as the view holds it, with the latest reading of each of its tags, by tag."""

    run: run_pb2.Run
    home_site: str
    latest: list[domain.LatestReading]


RUN = ReplicaRunRow.__table__  # type: ignore[attr-defined]
LATEST = ReplicaLatestRow.__table__  # type: ignore[attr-defined]
RUN_HELD = select(RUN.c.home_site, RUN.c.document).where(RUN.c.run_id == bindparam("run_id"))
LATEST_OF_RUN = (
    select(LATEST.c.run_id, LATEST.c.tag, LATEST.c.time_us, LATEST.c.value, LATEST.c.unit)
    .where(LATEST.c.run_id == bindparam("run_id"))
    .order_by(LATEST.c.tag)
)


def get_run(session: Session, run_id: str) -> HeldRun:
    row = session.execute(RUN_HELD, {"run_id": run_id}).first()
    if row is None:
        raise NotFound(
            "RUN_NOT_FOUND", f"this site's view holds no conjugationRuns/{run_id}", runId=run_id
        )
    latest = [
        domain.LatestReading(
            run_id=reading.run_id, tag=reading.tag, time_us=reading.time_us,
            value=reading.value, unit=reading.unit,
        )
        for reading in session.execute(LATEST_OF_RUN, {"run_id": run_id})
    ]
    return HeldRun(run_pb2.Run.FromString(row.document), row.home_site, latest)


def run_page(
    session: Session, filters: RunFilter, *, after: RunPosition | None, size: int
) -> list[tuple[RunPosition, bytes]]:
    """Up to ``size`` runs after ``after``, by home site and run id, as stored (the serialized
    Run), so that the caller can weigh them before decoding."""
    order = (RUN.c.home_site, RUN.c.run_id)
    query = select(*order, RUN.c.document).order_by(*order).limit(size)
    if filters.site:
        query = query.where(RUN.c.home_site == filters.site)
    if filters.batch_id:
        query = query.where(RUN.c.batch_id == filters.batch_id)
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    return [
        ((home_site, run_id), document) for home_site, run_id, document in session.execute(query)
    ]


@dataclass(frozen=True)
class BatchScopeFilter:
    """Of samples, investigations or dispositions: by home site and by batch."""

    site: str = ""  # home site; empty: all
    batch_id: str = ""  # empty: all


# Where a page of samples or investigations ends: (home site, id) of its last one.
ReleaseTestingPosition = tuple[str, str]
# Where a page of dispositions ends: (home site, batch id, number) of its last one.
DispositionPosition = tuple[str, str, int]

SAMPLE = ReplicaSampleRow.__table__  # type: ignore[attr-defined]
DOCUMENT_OF_SAMPLE = select(SAMPLE.c.document).where(SAMPLE.c.sample_id == bindparam("sample_id"))
INVESTIGATION = ReplicaInvestigationRow.__table__  # type: ignore[attr-defined]
DISPOSITION = ReplicaDispositionRow.__table__  # type: ignore[attr-defined]


def get_sample(session: Session, sample_id: str) -> sample_pb2.Sample:
    """One sample with its results, as the view holds it."""
    row = session.execute(DOCUMENT_OF_SAMPLE, {"sample_id": sample_id}).first()
    if row is None:
        raise NotFound(
            "SAMPLE_NOT_FOUND", f"this site's view holds no samples/{sample_id}",
            sampleId=sample_id,
        )
    return sample_pb2.Sample.FromString(row.document)


def sample_page(
    session: Session, filters: BatchScopeFilter, *, after: ReleaseTestingPosition | None,
    size: int,
) -> list[tuple[ReleaseTestingPosition, bytes]]:
    """Up to ``size`` samples after ``after``, by home site and sample id, as stored (the
    serialized Sample), so that the caller can weigh them before decoding."""
    order = (SAMPLE.c.home_site, SAMPLE.c.sample_id)
    query = select(*order, SAMPLE.c.document).order_by(*order).limit(size)
    if filters.site:
        query = query.where(SAMPLE.c.home_site == filters.site)
    if filters.batch_id:
        query = query.where(SAMPLE.c.batch_id == filters.batch_id)
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    return [
        ((home_site, sample_id), document)
        for home_site, sample_id, document in session.execute(query)
    ]


def investigation_page(
    session: Session, filters: BatchScopeFilter, *, after: ReleaseTestingPosition | None,
    size: int,
) -> list[tuple[ReleaseTestingPosition, bytes]]:
    """Up to ``size`` investigations after ``after``, by home site and investigation id, as
    stored (the serialized Investigation)."""
    order = (INVESTIGATION.c.home_site, INVESTIGATION.c.investigation_id)
    query = select(*order, INVESTIGATION.c.document).order_by(*order).limit(size)
    if filters.site:
        query = query.where(INVESTIGATION.c.home_site == filters.site)
    if filters.batch_id:
        query = query.where(INVESTIGATION.c.batch_id == filters.batch_id)
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    return [
        ((home_site, investigation_id), document)
        for home_site, investigation_id, document in session.execute(query)
    ]


def disposition_page(
    session: Session, filters: BatchScopeFilter, *, after: DispositionPosition | None,
    size: int,
) -> list[tuple[DispositionPosition, bytes]]:
    """Up to ``size`` dispositions after ``after``, by home site, batch id and number, as
    stored (the serialized Disposition)."""
    order = (DISPOSITION.c.home_site, DISPOSITION.c.batch_id, DISPOSITION.c.number)
    query = select(*order, DISPOSITION.c.document).order_by(*order).limit(size)
    if filters.site:
        query = query.where(DISPOSITION.c.home_site == filters.site)
    if filters.batch_id:
        query = query.where(DISPOSITION.c.batch_id == filters.batch_id)
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    return [
        ((home_site, batch_id, number), document)
        for home_site, batch_id, number, document in session.execute(query)
    ]


@dataclass(frozen=True)
class PackageFilter:
    sending_site: str = ""  # empty: all
    receiving_site: str = ""  # empty: all


# Where a page of transfer packages ends: (sending site, package id) of its last one.
PackagePosition = tuple[str, str]
PACKAGE = ReplicaTransferPackageRow.__table__  # type: ignore[attr-defined]
DOCUMENT_OF_PACKAGE = select(PACKAGE.c.document).where(
    PACKAGE.c.package_id == bindparam("package_id")
)


def get_package(session: Session, package_id: str) -> transfer_pb2.TransferPackage:
    """One transfer package, as the view knows it."""
    row = session.execute(DOCUMENT_OF_PACKAGE, {"package_id": package_id}).first()
    if row is None:
        raise NotFound(
            "TRANSFER_PACKAGE_NOT_FOUND",
            f"this site's view holds no transferPackages/{package_id}", packageId=package_id,
        )
    return transfer_pb2.TransferPackage.FromString(row.document)


def package_page(
    session: Session, filters: PackageFilter, *, after: PackagePosition | None, size: int
) -> list[tuple[PackagePosition, bytes]]:
    """Up to ``size`` packages after ``after``, by sending site and package id, as stored (the
    serialized TransferPackage), so that the caller can weigh them before decoding."""
    order = (PACKAGE.c.sending_site, PACKAGE.c.package_id)
    query = select(*order, PACKAGE.c.document).order_by(*order).limit(size)
    if filters.sending_site:
        query = query.where(PACKAGE.c.sending_site == filters.sending_site)
    if filters.receiving_site:
        query = query.where(PACKAGE.c.receiving_site == filters.receiving_site)
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    return [
        ((sending_site, package_id), document)
        for sending_site, package_id, document in session.execute(query)
    ]


def watermarks(session: Session, site_ids: list[str]) -> list[domain.Watermark]:
    """One per site of ``site_ids`` (zero if nothing came yet), then any other origin seen."""
    rows = session.execute(select(WatermarkRow)).scalars()
    stored = {row.site: watermark_of(row) for row in rows}
    listed = [stored.pop(site_id, domain.Watermark(site_id)) for site_id in site_ids]
    return listed + sorted(stored.values(), key=lambda mark: mark.site)


def watermark_of(row: Any) -> domain.Watermark:
    return domain.Watermark(
        site=row.site,
        last_event_time=from_text(row.last_event_time) if row.last_event_time else None,
        stream_sequence=row.stream_sequence,
        events_applied=row.events_applied,
        last_heartbeat_time=(
            from_text(row.last_heartbeat_time) if row.last_heartbeat_time else None
        ),
        origin_last_sequence=row.origin_last_sequence,
        heartbeat_interval=(
            None if row.heartbeat_interval_us is None
            else timedelta(microseconds=row.heartbeat_interval_us)
        ),
    )


@dataclass(frozen=True)
class ChangeFilter:
    site: str = ""  # home site; empty: all
    kind: str = ""  # "batch"; empty: all


@dataclass(frozen=True)
class LoggedChange:
    """One row of the change log: a replicated event the view took in."""

    position: int  # commit order in this view
    stream_sequence: int  # the token
    kind: str
    name: str
    home_site: str
    revision: int
    etag: str
    event_type: str
    event_time: str


CHANGES = ChangeLogRow.__table__  # type: ignore[attr-defined]
POSITION_OF_SEQUENCE = select(CHANGES.c.position).where(
    CHANGES.c.stream_sequence == bindparam("stream_sequence")
)
NEWEST_CHANGE = select(CHANGES.c.position, CHANGES.c.stream_sequence).order_by(
    CHANGES.c.position.desc()
).limit(1)


def change_position(session: Session, stream_sequence: int) -> int | None:
    """Where in commit order the change of the event at ``stream_sequence`` is; None if the
    view took in no change from it."""
    found = session.execute(POSITION_OF_SEQUENCE, {"stream_sequence": stream_sequence})
    position: int | None = found.scalar_one_or_none()
    return position


def newest_change(session: Session) -> tuple[int, int] | None:
    """(position, stream sequence) of the last change committed; None before the first."""
    row = session.execute(NEWEST_CHANGE).first()
    return None if row is None else (row.position, row.stream_sequence)


def changes_after(
    session: Session, position: int, filters: ChangeFilter, *, size: int
) -> list[LoggedChange]:
    """Up to ``size`` changes committed after ``position``, in commit order."""
    query = select(CHANGES).where(CHANGES.c.position > position)
    if filters.site:
        query = query.where(CHANGES.c.home_site == filters.site)
    if filters.kind:
        query = query.where(CHANGES.c.kind == filters.kind)
    query = query.order_by(CHANGES.c.position).limit(size)
    return [
        LoggedChange(
            position=row.position, stream_sequence=row.stream_sequence, kind=row.kind,
            name=row.name, home_site=row.home_site, revision=row.revision, etag=row.etag,
            event_type=row.event_type, event_time=row.event_time,
        )
        for row in session.execute(query)
    ]
