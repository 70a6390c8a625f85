"""Issuing a certificate: the sample complete, nothing open on it, rendered and stored once."""

from __future__ import annotations

from sqlmodel import Session
from twinline.releasetesting.v1 import disposition_pb2 as pb

from services.common.documents.pdf import UnprintableText
from services.common.domain.errors import FailedPrecondition
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.persistence.event_spec import record_change
from services.common.persistence.unit_of_work import UnitOfWork
from services.release_testing.certificates import domain, events, repository
from services.release_testing.certificates.pdf import certificate_sha256, render_certificate
from services.release_testing.certificates.translate import certificate_to_proto
from services.release_testing.investigations import repository as investigations
from services.release_testing.investigations.translate import investigation_from_proto
from services.release_testing.samples import handlers as samples


def issue(uow: UnitOfWork, *, principal: Principal, key: str, signature: SignatureRecord,
          site_name: str) -> pb.Certificate:
    sample = samples.load(uow, key)
    if repository.exists(uow.session, sample.sample_id):
        domain.refuse_second(sample.name)
    found = [investigation_from_proto(message)
             for message in investigations.of_batch(uow.session, sample.batch_id)]
    certificate = domain.issue(sample, found, signature=signature, now=uow.now)
    try:
        pdf = render_certificate(certificate_to_proto(certificate), site_name=site_name)
    except UnprintableText as error:
        raise FailedPrecondition("CERTIFICATE_UNPRINTABLE", str(error),
                                 sample=sample.name) from error
    stored = certificate_to_proto(certificate, certificate_sha256(pdf))
    repository.add(uow.session, certificate, stored, pdf)
    record_change(uow, events.ISSUED, actor=principal.username, aggregate_id=sample.sample_id,
                  resource_name=certificate.name, old_state=None, new_state=stored,
                  certificate=stored)
    return stored


def get(session: Session, sample_id: str) -> tuple[pb.Certificate, bytes]:
    return repository.stored(session, sample_id)
