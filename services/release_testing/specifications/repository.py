"""Persistence of specification versions, this site's and the replicas (SQLAlchemy Core)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session
from twinline.releasetesting.v1 import specification_pb2 as pb

from services.common.domain.clock import to_text
from services.common.domain.errors import NotFound
from services.release_testing.specifications.domain import Specification, State
from services.release_testing.tables import SpecificationRow

SPEC = SpecificationRow.__table__  # type: ignore[attr-defined]


def stored(session: Session, spec_id: str, version: int) -> pb.Specification:
    document = session.execute(select(SPEC.c.document).where(
        SPEC.c.spec_id == spec_id, SPEC.c.version == version)).scalar()
    if document is None:
        raise NotFound("SPECIFICATION_NOT_FOUND", f"no specification {spec_id} version "
                       f"{version}", specId=spec_id, version=str(version))
    return pb.Specification.FromString(document)


def latest_version(session: Session, spec_id: str) -> int:
    version = session.execute(select(func.max(SPEC.c.version)).where(
        SPEC.c.spec_id == spec_id)).scalar()
    if version is None:
        raise NotFound("SPECIFICATION_NOT_FOUND", f"no specification {spec_id}", specId=spec_id)
    return int(version)


def effective_version(session: Session, spec_id: str) -> int | None:
    version = session.execute(select(SPEC.c.version).where(
        SPEC.c.spec_id == spec_id, SPEC.c.state == State.EFFECTIVE.value)).scalar()
    return None if version is None else int(version)


def effective_for(session: Session, product: str) -> list[pb.Specification]:
    """Every effective version of every site's specifications of ``product``."""
    rows = session.execute(select(SPEC.c.document).where(
        SPEC.c.product == product, SPEC.c.state == State.EFFECTIVE.value,
    ).order_by(SPEC.c.spec_id))
    return [pb.Specification.FromString(row.document) for row in rows]


def next_number(session: Session, home_site: str, group_memo: dict[str, Any]) -> int:
    """This site's next specification number, counted within the group commit."""
    key = "specification_number"
    if key not in group_memo:
        group_memo[key] = session.execute(select(func.max(SPEC.c.number)).where(
            SPEC.c.home_site == home_site)).scalar() or 0
    group_memo[key] += 1
    return int(group_memo[key])


def number_of(spec_id: str) -> int:
    return int(spec_id.rsplit("-", 1)[1])


def put(session: Session, spec: Specification, message: pb.Specification, *,
        new: bool) -> None:
    row = {
        "home_site": spec.home_site, "product": spec.product, "state": spec.state.value,
        "revision": spec.revision, "document": message.SerializeToString(),
        "update_time": to_text(spec.update_time),
    }
    if new:
        session.execute(insert(SPEC), {**row, "spec_id": spec.spec_id, "version": spec.version,
                                       "number": number_of(spec.spec_id)})
    else:
        session.execute(update(SPEC).where(
            SPEC.c.spec_id == spec.spec_id, SPEC.c.version == spec.version).values(**row))


def revision_of(session: Session, spec_id: str, version: int) -> int | None:
    revision = session.execute(select(SPEC.c.revision).where(
        SPEC.c.spec_id == spec_id, SPEC.c.version == version)).scalar()
    return None if revision is None else int(revision)


def page(session: Session, *, product: str | None, after: tuple[str, int] | None,
         size: int) -> list[tuple[tuple[str, int], pb.Specification]]:
    query = select(SPEC.c.spec_id, SPEC.c.version, SPEC.c.document)
    if product is not None:
        query = query.where(SPEC.c.product == product)
    if after is not None:
        query = query.where((SPEC.c.spec_id > after[0]) | (
            (SPEC.c.spec_id == after[0]) & (SPEC.c.version > after[1])))
    rows = session.execute(query.order_by(SPEC.c.spec_id, SPEC.c.version).limit(size))
    return [((row.spec_id, row.version), pb.Specification.FromString(row.document))
            for row in rows]
