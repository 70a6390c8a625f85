"""Disposing a batch: what this site knows of it, from every site's records, decides."""

from __future__ import annotations

from twinline.releasetesting.v1 import disposition_pb2 as pb

from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.persistence.event_spec import record_change
from services.common.persistence.unit_of_work import UnitOfWork
from services.release_testing.dispositions import domain, events, repository
from services.release_testing.dispositions.domain import Decision
from services.release_testing.dispositions.translate import (
    disposition_from_proto,
    disposition_to_proto,
)
from services.release_testing.investigations import repository as investigations
from services.release_testing.investigations.translate import investigation_from_proto
from services.release_testing.projection import repository as projection
from services.release_testing.samples import repository as samples
from services.release_testing.samples.translate import sample_from_proto
from services.release_testing.specifications import repository as specifications
from services.release_testing.specifications.translate import specification_from_proto


def dispose(uow: UnitOfWork, *, principal: Principal, batch_id: str, decision: Decision,
            signature: SignatureRecord) -> pb.Disposition:
    batch = projection.known_batch(uow.session, batch_id)
    product = batch.product if batch is not None else ""
    disposition = domain.decide(
        batch=batch, batch_id=batch_id, site=uow.site, decision=decision,
        reason=signature.reason, signature=signature,
        previous=[disposition_from_proto(m) for m in repository.of_batch(uow.session, batch_id)],
        samples=[sample_from_proto(m) for m in samples.of_batch(uow.session, batch_id)],
        investigations=[investigation_from_proto(m)
                        for m in investigations.of_batch(uow.session, batch_id)],
        specifications=[specification_from_proto(m)
                        for m in specifications.effective_for(uow.session, product)],
        now=uow.now,
    )
    stored = disposition_to_proto(disposition)
    repository.add(uow.session, disposition, stored)
    record_change(uow, events.DECIDED, actor=principal.username,
                  aggregate_id=f"{batch_id}/{disposition.number}",
                  resource_name=disposition.name, old_state=None, new_state=stored,
                  reason=signature.reason, disposition=stored)
    return stored
