"""Persistence of samples, this site's and the replicas (SQLAlchemy Core)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session
from twinline.releasetesting.v1 import sample_pb2 as pb

from services.common.domain.clock import to_text
from services.common.domain.errors import NotFound
from services.release_testing.samples.domain import Sample
from services.release_testing.tables import SampleRow

SAMPLE = SampleRow.__table__  # type: ignore[attr-defined]


def stored(session: Session, sample_id: str) -> tuple[pb.Sample, str]:
    """The sample's document and who created it."""
    row = session.execute(select(SAMPLE.c.document, SAMPLE.c.created_by).where(
        SAMPLE.c.sample_id == sample_id)).first()
    if row is None:
        raise NotFound("SAMPLE_NOT_FOUND", f"no sample {sample_id}", sampleId=sample_id)
    return pb.Sample.FromString(row.document), row.created_by


def of_batch(session: Session, batch_id: str) -> list[pb.Sample]:
    """Every site's samples of a batch (this site's and the replicas)."""
    rows = session.execute(select(SAMPLE.c.document).where(
        SAMPLE.c.batch_id == batch_id).order_by(SAMPLE.c.sample_id))
    return [pb.Sample.FromString(row.document) for row in rows]


def next_number(session: Session, prefix: str, group_memo: dict[str, Any]) -> int:
    """The next number of this site's samples of the year (ids start with ``prefix``)."""
    key = f"sample_number:{prefix}"
    if key not in group_memo:
        group_memo[key] = session.execute(select(func.max(SAMPLE.c.number)).where(
            SAMPLE.c.sample_id.startswith(prefix))).scalar() or 0
    group_memo[key] += 1
    return int(group_memo[key])


def put(session: Session, sample: Sample, message: pb.Sample, *, new: bool) -> None:
    row = {"revision": sample.revision, "document": message.SerializeToString(),
           "update_time": to_text(sample.update_time)}
    if new:
        session.execute(insert(SAMPLE), {
            **row, "sample_id": sample.sample_id, "number": int(sample.sample_id[-5:]),
            "home_site": sample.home_site, "batch_id": sample.batch_id,
            "created_by": sample.created_by,
        })
    else:
        session.execute(update(SAMPLE).where(SAMPLE.c.sample_id == sample.sample_id)
                        .values(**row))


def page(session: Session, *, batch_id: str | None, after: str | None,
         size: int) -> list[tuple[str, pb.Sample]]:
    query = select(SAMPLE.c.sample_id, SAMPLE.c.document)
    if batch_id is not None:
        query = query.where(SAMPLE.c.batch_id == batch_id)
    if after is not None:
        query = query.where(SAMPLE.c.sample_id > after)
    rows = session.execute(query.order_by(SAMPLE.c.sample_id).limit(size))
    return [(row.sample_id, pb.Sample.FromString(row.document)) for row in rows]
