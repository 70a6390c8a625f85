"""Persistence of samples, this site's and the replicas (SQLAlchemy Core)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session
from twinline.releasetesting.v1 import sample_pb2 as pb

from services.common.domain.clock import to_text
from services.common.domain.errors import NotFound
from services.common.grpc.translate import moment
from services.release_testing.samples.domain import Sample
from services.release_testing.tables import ResultTrendRow, SampleRow

SAMPLE = SampleRow.__table__  # type: ignore[attr-defined]
TREND = ResultTrendRow.__table__  # type: ignore[attr-defined]
# The most results a trend judges a new one against (the baseline is the first 20).
TREND_HISTORY_LIMIT = 500


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


def index_trend(session: Session, message: pb.Sample) -> None:
    """The sample's reviewed results into the trend index (a later change overwrites)."""
    batch_id = message.batch.removeprefix("batches/")
    for assignment in message.assignments:
        for result in assignment.results:
            reviewed = result.state in (pb.RESULT_STATE_REVIEWED, pb.RESULT_STATE_INVALIDATED)
            numeric = result.judgements and result.judgements[0].reportable
            if not reviewed or not numeric or len(result.signatures) < 2:
                continue
            row = {
                "batch_id": batch_id, "product": message.product,
                "attribute": assignment.attribute, "method_id": assignment.method_id,
                "home_site": message.home_site, "value": result.judgements[0].reportable,
                "review_time": to_text(moment(result.signatures[1].sign_time)),
                "valid": result.state == pb.RESULT_STATE_REVIEWED,
            }
            updated = session.execute(update(TREND).where(
                TREND.c.result_name == result.name).values(**row))
            if not updated.rowcount:  # type: ignore[attr-defined]
                session.execute(insert(TREND).values(result_name=result.name, **row))


def trend_history(session: Session, *, product: str, attribute: str, method_id: str,
                  other_than: str) -> list[Decimal]:
    """Every site's valid reviewed results of the attribute, earliest first, but those of
    the batch ``other_than`` (a result is charted against the other batches)."""
    rows = session.execute(select(TREND.c.value).where(
        TREND.c.product == product, TREND.c.attribute == attribute,
        TREND.c.method_id == method_id, TREND.c.valid.is_(True),
        TREND.c.batch_id != other_than,
    ).order_by(TREND.c.review_time, TREND.c.result_name).limit(TREND_HISTORY_LIMIT))
    return [Decimal(row.value) for row in rows]
