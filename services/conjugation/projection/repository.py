"""Persistence of what the conjugation service projects (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, delete, insert, select, update
from sqlmodel import Session

from services.conjugation.projection.domain import KnownBatch, TrendPoint, newer
from services.conjugation.tables import KnownBatchRow, TrendPointRow

KNOWN_BATCH = KnownBatchRow.__table__  # type: ignore[attr-defined]
TREND_POINT = TrendPointRow.__table__  # type: ignore[attr-defined]


def known_batch(session: Session, batch_id: str) -> KnownBatch | None:
    row = session.execute(select(KNOWN_BATCH).where(KNOWN_BATCH.c.batch_id == batch_id)).first()
    if row is None:
        return None
    return KnownBatch(row.batch_id, row.state, row.product, row.revision, row.recipe)


def put_batches(
    session: Session, batches: Sequence[KnownBatch], recipes: dict[str, tuple[bytes, str]]
) -> None:
    """Each batch's newest state; a recipe (from "created") is kept whatever came first."""
    held = {
        row.batch_id: KnownBatch(row.batch_id, row.state, row.product, row.revision, row.recipe)
        for row in session.execute(
            select(KNOWN_BATCH).where(KNOWN_BATCH.c.batch_id.in_([b.batch_id for b in batches]))
        )
    }
    for batch in batches:
        before = held.get(batch.batch_id)
        recipe, product = recipes.get(batch.batch_id, (None, None))
        if before is None:
            session.execute(insert(KNOWN_BATCH).values(
                batch_id=batch.batch_id, state=batch.state, product=product or batch.product,
                revision=batch.revision, recipe=recipe or b"",
            ))
            continue
        values: dict[str, object] = {}
        if newer(batch, before):
            values.update(state=batch.state, revision=batch.revision)
        if recipe is not None and not before.recipe:
            values.update(recipe=recipe, product=product)
        if values:
            session.execute(
                update(KNOWN_BATCH).where(KNOWN_BATCH.c.batch_id == batch.batch_id)
                .values(values)
            )


DELETE_POINTS = delete(TREND_POINT).where(
    (TREND_POINT.c.run_id == bindparam("run")) & (TREND_POINT.c.attribute == bindparam("attr"))
)


def put_points(session: Session, points: Iterable[TrendPoint]) -> None:
    """The trend points of a run's results (recorded once per run: a repeat replaces)."""
    rows = [vars(point) for point in points]
    if not rows:
        return
    for row in rows:
        session.execute(DELETE_POINTS, {"run": row["run_id"], "attr": row["attribute"]})
    session.execute(insert(TREND_POINT), rows)


def trend(session: Session, product: str, attribute: str) -> list[TrendPoint]:
    """Every site's points of one product's attribute, in the order they were recorded."""
    rows = session.execute(
        select(TREND_POINT)
        .where((TREND_POINT.c.product == product) & (TREND_POINT.c.attribute == attribute))
        .order_by(TREND_POINT.c.record_time, TREND_POINT.c.run_id)
    )
    return [
        TrendPoint(row.run_id, row.attribute, row.site, row.product, row.batch_id, row.value,
                   row.unit, row.record_time)
        for row in rows
    ]
