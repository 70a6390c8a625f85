"""Persistence of what release testing projects: batches, and replicas of other sites'
specifications and samples (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlmodel import Session
from twinline.releasetesting.v1 import investigation_pb2

from services.common.domain.clock import to_text
from services.common.grpc.translate import moment
from services.release_testing.projection.domain import KnownBatch, newer
from services.release_testing.tables import (
    InvestigationRow,
    KnownBatchRow,
    SampleRow,
    SpecificationRow,
)

KNOWN_BATCH = KnownBatchRow.__table__  # type: ignore[attr-defined]
SPEC = SpecificationRow.__table__  # type: ignore[attr-defined]
SAMPLE = SampleRow.__table__  # type: ignore[attr-defined]
INVESTIGATION = InvestigationRow.__table__  # type: ignore[attr-defined]


def _batch(row: object) -> KnownBatch:
    return KnownBatch(row.batch_id, row.home_site, row.product, row.state,  # type: ignore[attr-defined]
                      tuple(row.open_issues.split()), row.revision)  # type: ignore[attr-defined]


def known_batch(session: Session, batch_id: str) -> KnownBatch | None:
    row = session.execute(select(KNOWN_BATCH).where(KNOWN_BATCH.c.batch_id == batch_id)).first()
    return None if row is None else _batch(row)


def put_batches(session: Session, batches: Sequence[KnownBatch]) -> None:
    """Each batch's newest state; the product is kept from whichever event carried it."""
    held = {
        row.batch_id: _batch(row) for row in session.execute(
            select(KNOWN_BATCH).where(KNOWN_BATCH.c.batch_id.in_([b.batch_id for b in batches])))
    }
    for batch in batches:
        before = held.get(batch.batch_id)
        values = {"state": batch.state, "open_issues": " ".join(batch.open_issues),
                  "revision": batch.revision}
        if before is None:
            session.execute(insert(KNOWN_BATCH).values(
                batch_id=batch.batch_id, home_site=batch.home_site, product=batch.product,
                **values))
        elif newer(batch, before):
            if batch.product and not before.product:
                values["product"] = batch.product
            session.execute(update(KNOWN_BATCH).where(
                KNOWN_BATCH.c.batch_id == batch.batch_id).values(**values))
        elif batch.product and not before.product:
            session.execute(update(KNOWN_BATCH).where(
                KNOWN_BATCH.c.batch_id == batch.batch_id).values(product=batch.product))


def put_specification_replica(session: Session, *, spec_id: str, version: int, home_site: str,
                              product: str, state: str, revision: int, document: bytes,
                              update_time: str) -> None:
    """Another site's version, kept at its newest revision."""
    held = session.execute(select(SPEC.c.revision).where(
        SPEC.c.spec_id == spec_id, SPEC.c.version == version)).scalar()
    row = {"home_site": home_site, "product": product, "state": state, "revision": revision,
           "document": document, "update_time": update_time}
    if held is None:
        session.execute(insert(SPEC).values(spec_id=spec_id, version=version,
                                            number=int(spec_id.rsplit("-", 1)[1]), **row))
    elif revision > held:
        session.execute(update(SPEC).where(
            SPEC.c.spec_id == spec_id, SPEC.c.version == version).values(**row))


def put_sample_replica(session: Session, *, sample_id: str, home_site: str, batch_id: str,
                       revision: int, document: bytes, update_time: str) -> bool:
    """Another site's sample, kept at its newest revision; True when this one was newer."""
    held = session.execute(select(SAMPLE.c.revision).where(
        SAMPLE.c.sample_id == sample_id)).scalar()
    row = {"home_site": home_site, "batch_id": batch_id, "revision": revision,
           "document": document, "update_time": update_time}
    if held is None:
        session.execute(insert(SAMPLE).values(
            sample_id=sample_id, number=int(sample_id.rsplit("-", 1)[1]), created_by="",
            **row))
        return True
    if revision > held:
        session.execute(update(SAMPLE).where(SAMPLE.c.sample_id == sample_id).values(**row))
        return True
    return False


def put_investigation_replica(session: Session, replica: investigation_pb2.Investigation) -> None:
    """Another site's investigation, kept at its newest revision."""
    investigation_id = replica.name.removeprefix("investigations/")
    revision = int(replica.etag)
    held = session.execute(select(INVESTIGATION.c.revision).where(
        INVESTIGATION.c.investigation_id == investigation_id)).scalar()
    row = {"state": investigation_pb2.InvestigationState.Name(replica.state)
           .removeprefix("INVESTIGATION_STATE_").lower(), "revision": revision,
           "document": replica.SerializeToString(),
           "update_time": to_text(moment(replica.update_time))}
    if held is None:
        session.execute(insert(INVESTIGATION).values(
            investigation_id=investigation_id, number=int(investigation_id[-5:]),
            home_site=replica.home_site, batch_id=replica.batch.removeprefix("batches/"),
            result_name=replica.result, **row))
    elif revision > held:
        session.execute(update(INVESTIGATION).where(
            INVESTIGATION.c.investigation_id == investigation_id).values(**row))
