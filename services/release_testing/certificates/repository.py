"""Persistence of certificates (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlmodel import Session
from twinline.releasetesting.v1 import disposition_pb2 as pb

from services.common.domain.clock import to_text
from services.common.domain.errors import NotFound
from services.release_testing.certificates.domain import Certificate
from services.release_testing.tables import CertificateRow

CERTIFICATE = CertificateRow.__table__  # type: ignore[attr-defined]


def exists(session: Session, sample_id: str) -> bool:
    return session.execute(select(CERTIFICATE.c.sample_id).where(
        CERTIFICATE.c.sample_id == sample_id)).first() is not None


def add(session: Session, certificate: Certificate, message: pb.Certificate, pdf: bytes) -> None:
    session.execute(insert(CERTIFICATE).values(
        sample_id=certificate.sample_id, home_site=certificate.home_site,
        batch_id=certificate.batch_id, document=message.SerializeToString(), pdf=pdf,
        pdf_sha256=message.pdf_sha256, issue_time=to_text(certificate.issued_at)))


def stored(session: Session, sample_id: str) -> tuple[pb.Certificate, bytes]:
    row = session.execute(select(CERTIFICATE.c.document, CERTIFICATE.c.pdf).where(
        CERTIFICATE.c.sample_id == sample_id)).first()
    if row is None:
        raise NotFound("CERTIFICATE_NOT_FOUND", f"samples/{sample_id} has no certificate",
                       sample=f"samples/{sample_id}")
    return pb.Certificate.FromString(row.document), row.pdf
