"""Persistence of dispositions (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlmodel import Session
from twinline.releasetesting.v1 import disposition_pb2 as pb

from services.common.domain.clock import to_text
from services.release_testing.dispositions.domain import Disposition
from services.release_testing.tables import DispositionRow

DISPOSITION = DispositionRow.__table__  # type: ignore[attr-defined]


def of_batch(session: Session, batch_id: str) -> list[pb.Disposition]:
    rows = session.execute(select(DISPOSITION.c.document).where(
        DISPOSITION.c.batch_id == batch_id).order_by(DISPOSITION.c.number))
    return [pb.Disposition.FromString(row.document) for row in rows]


def add(session: Session, disposition: Disposition, message: pb.Disposition) -> None:
    session.execute(insert(DISPOSITION).values(
        batch_id=disposition.batch_id, number=disposition.number,
        decision=disposition.decision.value, document=message.SerializeToString(),
        decide_time=to_text(disposition.decided_at)))


def page(session: Session, *, batch_id: str | None, after: tuple[str, int] | None,
         size: int) -> list[tuple[tuple[str, int], pb.Disposition]]:
    query = select(DISPOSITION.c.batch_id, DISPOSITION.c.number, DISPOSITION.c.document)
    if batch_id is not None:
        query = query.where(DISPOSITION.c.batch_id == batch_id)
    if after is not None:
        query = query.where((DISPOSITION.c.batch_id > after[0]) | (
            (DISPOSITION.c.batch_id == after[0]) & (DISPOSITION.c.number > after[1])))
    rows = session.execute(query.order_by(DISPOSITION.c.batch_id, DISPOSITION.c.number)
                           .limit(size))
    return [((row.batch_id, row.number), pb.Disposition.FromString(row.document))
            for row in rows]
