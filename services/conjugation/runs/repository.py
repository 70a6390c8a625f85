"""Persistence of conjugation runs and of the batches this site knows of (SQLAlchemy Core)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session
from twinline.batchrecords.v1 import master_batch_record_pb2 as recipe_pb
from twinline.conjugation.v1 import run_pb2 as pb

from services.common.domain.clock import to_text
from services.common.domain.errors import NotFound
from services.conjugation.runs.domain import Run
from services.conjugation.runs.translate import run_from_proto, step_limits_of
from services.conjugation.tables import KnownBatchRow, RunRow

RUN = RunRow.__table__  # type: ignore[attr-defined]
KNOWN_BATCH = KnownBatchRow.__table__  # type: ignore[attr-defined]

DOCUMENT_OF_RUN = select(RUN.c.document).where(RUN.c.run_id == bindparam("run_id"))
RECIPE_OF_BATCH = select(KNOWN_BATCH.c.recipe).where(
    KNOWN_BATCH.c.batch_id == bindparam("batch_id")
)
INSERT_RUN = insert(RUN)
UPDATE_RUN = (
    update(RUN).where(RUN.c.run_id == bindparam("target"))
    .values(phase=bindparam("phase"), document=bindparam("document"),
            update_time=bindparam("update_time"))
)


def recipe_of(session: Session, batch_id: str) -> recipe_pb.MasterBatchRecord | None:
    recipe = session.execute(RECIPE_OF_BATCH, {"batch_id": batch_id}).scalar()
    return None if recipe is None else recipe_pb.MasterBatchRecord.FromString(recipe)


def stored(session: Session, run_id: str) -> pb.Run:
    document = session.execute(DOCUMENT_OF_RUN, {"run_id": run_id}).scalar()
    if document is None:
        raise NotFound("RUN_NOT_FOUND", f"no conjugation run {run_id}", runId=run_id)
    return pb.Run.FromString(document)


def get(session: Session, run_id: str) -> Run:
    message = stored(session, run_id)
    batch_id = message.batch.removeprefix("batches/")
    recipe = recipe_of(session, batch_id) or recipe_pb.MasterBatchRecord()
    limits, _ = step_limits_of(recipe, message.phase_steps)
    return run_from_proto(message, limits)


def batch_of(session: Session, run_id: str) -> str | None:
    """The batch of a run, "batches/{batch_id}", or None when there is no such run."""
    batch_id = session.execute(select(RUN.c.batch_id).where(RUN.c.run_id == run_id)).scalar()
    return None if batch_id is None else f"batches/{batch_id}"


def next_number(session: Session, group_memo: dict[str, Any]) -> int:
    """The next run number, counted within the group commit."""
    key = "run_number"
    if key not in group_memo:
        group_memo[key] = session.execute(select(func.max(RUN.c.number))).scalar() or 0
    group_memo[key] += 1
    return int(group_memo[key])


def add(session: Session, run: Run, message: pb.Run, number: int) -> None:
    session.execute(INSERT_RUN, {
        "run_id": run.run_id, "number": number, "batch_id": run.batch_id,
        "phase": run.phase.value, "document": message.SerializeToString(),
        "update_time": to_text(run.update_time),
    })


def replace(session: Session, run: Run, message: pb.Run) -> None:
    session.execute(UPDATE_RUN, {
        "target": run.run_id, "phase": run.phase.value,
        "document": message.SerializeToString(), "update_time": to_text(run.update_time),
    })


def page(
    session: Session, *, batch_id: str | None, after: int | None, size: int
) -> list[tuple[int, pb.Run]]:
    """Runs ordered by number, after the given one."""
    query = select(RUN.c.number, RUN.c.document)
    if batch_id is not None:
        query = query.where(RUN.c.batch_id == batch_id)
    if after is not None:
        query = query.where(RUN.c.number > after)
    rows = session.execute(query.order_by(RUN.c.number).limit(size))
    return [(row.number, pb.Run.FromString(row.document)) for row in rows]
