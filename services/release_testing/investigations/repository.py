"""Persistence of investigations, this site's and the replicas (SQLAlchemy Core)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session
from twinline.releasetesting.v1 import investigation_pb2 as pb

from services.common.domain.clock import to_text
from services.common.domain.errors import NotFound
from services.release_testing.investigations.domain import Investigation
from services.release_testing.tables import InvestigationRow

INVESTIGATION = InvestigationRow.__table__  # type: ignore[attr-defined]


def stored(session: Session, investigation_id: str) -> pb.Investigation:
    document = session.execute(select(INVESTIGATION.c.document).where(
        INVESTIGATION.c.investigation_id == investigation_id)).scalar()
    if document is None:
        raise NotFound("INVESTIGATION_NOT_FOUND", f"no investigation {investigation_id}",
                       investigationId=investigation_id)
    return pb.Investigation.FromString(document)


def of_result(session: Session, result_name: str) -> pb.Investigation | None:
    """The newest investigation of a result, if any."""
    document = session.execute(select(INVESTIGATION.c.document).where(
        INVESTIGATION.c.result_name == result_name,
    ).order_by(INVESTIGATION.c.investigation_id.desc()).limit(1)).scalar()
    return None if document is None else pb.Investigation.FromString(document)


def open_of_sample(session: Session, sample_id: str) -> list[pb.Investigation]:
    """This site's investigations of a sample's results that are open, oldest first."""
    rows = session.execute(select(INVESTIGATION.c.document).where(
        INVESTIGATION.c.result_name.startswith(f"samples/{sample_id}/results/"),
        INVESTIGATION.c.state.not_in(("closed_invalidated", "closed_confirmed")),
    ).order_by(INVESTIGATION.c.investigation_id))
    return [pb.Investigation.FromString(row.document) for row in rows]


def of_batch(session: Session, batch_id: str) -> list[pb.Investigation]:
    """Every site's investigations of a batch's samples."""
    rows = session.execute(select(INVESTIGATION.c.document).where(
        INVESTIGATION.c.batch_id == batch_id).order_by(INVESTIGATION.c.investigation_id))
    return [pb.Investigation.FromString(row.document) for row in rows]


def next_number(session: Session, prefix: str, group_memo: dict[str, Any]) -> int:
    key = f"investigation_number:{prefix}"
    if key not in group_memo:
        group_memo[key] = session.execute(select(func.max(INVESTIGATION.c.number)).where(
            INVESTIGATION.c.investigation_id.startswith(prefix))).scalar() or 0
    group_memo[key] += 1
    return int(group_memo[key])


def put(session: Session, investigation: Investigation, message: pb.Investigation, *,
        new: bool) -> None:
    row = {"state": investigation.state.value, "revision": investigation.revision,
           "document": message.SerializeToString(),
           "update_time": to_text(investigation.updated_at)}
    if new:
        session.execute(insert(INVESTIGATION), {
            **row, "investigation_id": investigation.investigation_id,
            "number": int(investigation.investigation_id[-5:]),
            "home_site": investigation.home_site, "batch_id": investigation.batch_id,
            "result_name": investigation.result_name,
        })
    else:
        session.execute(update(INVESTIGATION).where(
            INVESTIGATION.c.investigation_id == investigation.investigation_id).values(**row))


def page(session: Session, *, batch_id: str | None, after: str | None,
         size: int) -> list[tuple[str, pb.Investigation]]:
    query = select(INVESTIGATION.c.investigation_id, INVESTIGATION.c.document)
    if batch_id is not None:
        query = query.where(INVESTIGATION.c.batch_id == batch_id)
    if after is not None:
        query = query.where(INVESTIGATION.c.investigation_id > after)
    rows = session.execute(query.order_by(INVESTIGATION.c.investigation_id).limit(size))
    return [(row.investigation_id, pb.Investigation.FromString(row.document)) for row in rows]
