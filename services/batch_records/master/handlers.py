"""Master batch record use cases: load, decide in the domain, save with audit entry and event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from twinline.batchrecords.v1 import master_batch_record_pb2 as pb

from services.batch_records.master import domain, events, repository
from services.batch_records.master.domain import MasterBatchRecord, RecipeContent
from services.batch_records.master.names import record_id_for, version_key
from services.batch_records.master.translate import record_to_proto
from services.common.domain.clock import to_text
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.grpc.translate import signature_to_proto
from services.common.persistence.event_spec import EventSpec, record_change
from services.common.persistence.unit_of_work import UnitOfWork

# A signed decision on one version: (record, signature, etag, now) → the record after it.
Decision = Callable[..., MasterBatchRecord]


def _save(
    uow: UnitOfWork, spec: EventSpec, *, actor: str, before: MasterBatchRecord | None,
    after: MasterBatchRecord, reason: str = "", record_number: int = 0,
    signature: SignatureRecord | None = None, **payload_fields: object,
) -> None:
    """Stores ``after`` with its audit entry (old → new) and its event, in the open transaction."""
    stored = record_to_proto(after)
    if before is None:
        repository.add(uow.session, after, stored, record_number=record_number)
    else:
        repository.replace(uow.session, after, stored)
    if signature is not None:
        payload_fields["signature"] = signature_to_proto(signature)
    record_change(
        uow, spec, actor=actor, aggregate_id=after.key, resource_name=after.name,
        old_state=None if before is None else record_to_proto(before), new_state=stored,
        reason=reason, master_batch_record=stored, **payload_fields,
    )


def create(
    uow: UnitOfWork, *, principal: Principal, site_code: str, content: RecipeContent
) -> MasterBatchRecord:
    number = repository.next_record_number(uow.session, uow.group_memo)
    record = domain.create_draft(
        record_id=record_id_for(site_code, number), home_site=uow.site, content=content,
        author=principal.username, now=uow.now,
    )
    _save(uow, events.CREATED, actor=principal.username, before=None, after=record,
          record_number=number)
    return record


def create_version(uow: UnitOfWork, *, principal: Principal, record_id: str) -> MasterBatchRecord:
    latest = repository.latest(uow.session, record_id)
    record = domain.new_version(latest, author=principal.username, now=uow.now)
    _save(uow, events.CREATED, actor=principal.username, before=None, after=record,
          record_number=repository.record_number_of(uow.session, record_id))
    return record


def update(
    uow: UnitOfWork, *, principal: Principal, key: str, content: RecipeContent,
    paths: frozenset[str], etag: str,
) -> MasterBatchRecord:
    before = repository.get(uow.session, key)
    after = domain.update_draft(before, content=content, paths=paths, etag=etag, now=uow.now)
    _save(uow, events.UPDATED, actor=principal.username, before=before, after=after,
          updated_paths=sorted(paths))
    return after


def submit(uow: UnitOfWork, *, principal: Principal, key: str, etag: str) -> MasterBatchRecord:
    before = repository.get(uow.session, key)
    after = domain.submit_for_review(before, etag=etag, now=uow.now)
    _save(uow, events.SUBMITTED, actor=principal.username, before=before, after=after)
    return after


class SignedUseCase(Protocol):
    def __call__(
        self, uow: UnitOfWork, *, principal: Principal, key: str, etag: str,
        signature: SignatureRecord,
    ) -> MasterBatchRecord: ...


def _signed_decision(decide: Decision, spec: EventSpec) -> SignedUseCase:
    """The shape of review, approval and rejection: one version, one signature, one event."""

    def use_case(
        uow: UnitOfWork, *, principal: Principal, key: str, etag: str,
        signature: SignatureRecord,
    ) -> MasterBatchRecord:
        before = repository.get(uow.session, key)
        after = decide(before, signature=signature, etag=etag, now=uow.now)
        _save(uow, spec, actor=principal.username, before=before, after=after,
              reason=signature.reason, signature=signature)
        return after

    return use_case


review = _signed_decision(domain.review, events.REVIEWED)
approve = _signed_decision(domain.approve, events.APPROVED)
reject = _signed_decision(domain.reject, events.REJECTED)


def make_effective(
    uow: UnitOfWork, *, principal: Principal, key: str, etag: str, signature: SignatureRecord
) -> tuple[MasterBatchRecord, MasterBatchRecord | None]:
    before = repository.get(uow.session, key)
    current = repository.effective(uow.session, before.record_id)
    after, superseded = domain.make_effective(
        before, signature=signature, etag=etag, site=uow.site, current=current, now=uow.now
    )
    if superseded is not None and current is not None:
        _save(uow, events.SUPERSEDED, actor=principal.username, before=current,
              after=superseded, reason=f"superseded by {after.name}")
    _save(uow, events.MADE_EFFECTIVE, actor=principal.username, before=before, after=after,
          reason=signature.reason, signature=signature)
    return after, superseded


def make_effective_by_transfer(
    uow: UnitOfWork, *, record: pb.MasterBatchRecord, package: str,
    signature: SignatureRecord, event_id: str,
) -> bool:
    """Another site's version effective here, once: this site's QA accepted its transfer
    (the event ``event_id`` of tech transfer says so). True when it was not yet."""
    key = version_key(record.record_id, record.version)
    if not repository.put_transferred(uow.session, key, record, package=package,
                                      effective_time=to_text(uow.now)):
        return False
    record_change(
        uow, events.EFFECTIVE_BY_TRANSFER, actor="tech_transfer", aggregate_id=key,
        resource_name=record.name, old_state=None, new_state=record,
        reason=f"event {event_id}: {package} accepted by {signature.signer}",
        master_batch_record=record, package=package, signature=signature_to_proto(signature),
    )
    return True
