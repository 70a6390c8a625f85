"""Persistence of the results tech transfer compares (SQLAlchemy Core)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlmodel import Session
from twinline.releasetesting.v1 import sample_pb2

from services.tech_transfer.tables import ResultPointRow

POINT = ResultPointRow.__table__  # type: ignore[attr-defined]


def put_results(session: Session, sample: sample_pb2.Sample) -> None:
    """The sample's numeric results: valid while reviewed, not once invalidated."""
    batch_id = sample.batch.removeprefix("batches/")
    for assignment in sample.assignments:
        for result in assignment.results:
            if not result.judgements or not result.judgements[0].reportable:
                continue
            row = {"product": sample.product, "attribute": assignment.attribute,
                   "batch_id": batch_id, "value": result.judgements[0].reportable,
                   "valid": result.state == sample_pb2.RESULT_STATE_REVIEWED}
            updated = session.execute(update(POINT).where(
                POINT.c.result_name == result.name).values(**row))
            if not updated.rowcount:  # type: ignore[attr-defined]
                session.execute(insert(POINT).values(result_name=result.name, **row))


def values_by_batch(session: Session, product: str, attribute: str,
                    batch_prefix: str) -> list[Decimal]:
    """One value per batch of a site (the batch ids start with its code): the newest valid
    result of each batch (a retest replaces what it retested only once that is invalid)."""
    rows = session.execute(select(POINT.c.batch_id, POINT.c.value).where(
        POINT.c.product == product, POINT.c.attribute == attribute, POINT.c.valid.is_(True),
        POINT.c.batch_id.startswith(f"{batch_prefix}-"),
    ).order_by(POINT.c.batch_id, POINT.c.result_name))
    newest: dict[str, str] = {}
    for row in rows:
        newest[row.batch_id] = row.value
    return [Decimal(value) for value in newest.values()]
