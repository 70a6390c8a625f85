"""Master batch record use cases: load, decide in the domain, save with audit entry and event."""

from __future__ import annotations

from decimal import Decimal

from google.protobuf import message
from twinline.events.v1 import master_batch_record_events_pb2 as events

from services.batch_records.master import domain, repository
from services.batch_records.master.domain import MasterBatchRecord, RecipeContent
from services.batch_records.master.names import record_id_for
from services.batch_records.master.translate import record_to_proto
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.grpc.translate import signature_to_proto
from services.common.persistence.audit import canonical_json
from services.common.persistence.unit_of_work import UnitOfWork

CONTEXT, AGGREGATE = "batchrecords", "master_batch_record"


def _state_json(record: MasterBatchRecord | None) -> str:
    """What the audit trail records of a version: its state, signatures and recipe."""
    if record is None:
        return ""
    return canonical_json(
        {
            "name": record.name, "state": record.state.value, "etag": record.etag,
            "author": record.author, "content": _content_dict(record.content),
            "signatures": [signature.as_dict() for signature in record.signatures],
            "supersedes": record.supersedes, "supersededBy": record.superseded_by,
        }
    )


def _content_dict(content: RecipeContent) -> dict[str, object]:
    # Written out rather than dataclasses.asdict, whose deep copies cost more than the rest.
    return {
        "product": content.product, "process": content.process, "title": content.title,
        "unitProcedures": [
            {"id": unit.id, "name": unit.name, "operations": [
                {"id": operation.id, "name": operation.name, "steps": [
                    {"id": step.id, "name": step.name, "instruction": step.instruction,
                     "kind": step.kind.value if step.kind else "",
                     "requiresVerification": step.requires_verification,
                     "parallelAllowed": step.parallel_allowed,
                     "parameters": [
                         {"name": p.name, "unit": p.unit, "target": _text(p.target),
                          "lowLimit": _text(p.low_limit), "highLimit": _text(p.high_limit),
                          "critical": p.critical, "alertLow": _text(p.alert_low),
                          "alertHigh": _text(p.alert_high)}
                         for p in step.parameters
                     ]}
                    for step in operation.steps
                ]}
                for operation in unit.operations
            ]}
            for unit in content.unit_procedures
        ],
    }


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


EVENT_PAYLOADS: dict[str, type[message.Message]] = {
    "created": events.MasterBatchRecordCreated,
    "updated": events.MasterBatchRecordUpdated,
    "submitted": events.MasterBatchRecordSubmitted,
    "reviewed": events.MasterBatchRecordReviewed,
    "approved": events.MasterBatchRecordApproved,
    "rejected": events.MasterBatchRecordRejected,
    "made_effective": events.MasterBatchRecordMadeEffective,
    "superseded": events.MasterBatchRecordSuperseded,
}


def _save(
    uow: UnitOfWork, *, actor: str, event: str, before: MasterBatchRecord | None,
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
    payload = EVENT_PAYLOADS[event](master_batch_record=stored, **payload_fields)
    uow.record_change(
        actor=actor, service="batch_records", context=CONTEXT, aggregate=AGGREGATE, event=event,
        aggregate_id=after.key, resource_name=after.name, old_value=_state_json(before),
        new_value=_state_json(after), payload=payload, reason=reason,
    )


def create(
    uow: UnitOfWork, *, principal: Principal, site_code: str, content: RecipeContent
) -> MasterBatchRecord:
    number = repository.next_record_number(uow.session, uow.group_memo)
    record = domain.create_draft(
        record_id=record_id_for(site_code, number), home_site=uow.site, content=content,
        author=principal.username, now=uow.now,
    )
    _save(uow, actor=principal.username, event="created", before=None, after=record,
          record_number=number)
    return record


def create_version(uow: UnitOfWork, *, principal: Principal, record_id: str) -> MasterBatchRecord:
    latest = repository.latest(uow.session, record_id)
    record = domain.new_version(latest, author=principal.username, now=uow.now)
    _save(uow, actor=principal.username, event="created", before=None, after=record,
          record_number=repository.record_number_of(uow.session, record_id))
    return record


def update(
    uow: UnitOfWork, *, principal: Principal, key: str, content: RecipeContent,
    paths: frozenset[str], etag: str,
) -> MasterBatchRecord:
    before = repository.get(uow.session, key)
    after = domain.update_draft(before, content=content, paths=paths, etag=etag, now=uow.now)
    _save(uow, actor=principal.username, event="updated", before=before, after=after,
          updated_paths=sorted(paths))
    return after


def submit(uow: UnitOfWork, *, principal: Principal, key: str, etag: str) -> MasterBatchRecord:
    before = repository.get(uow.session, key)
    after = domain.submit_for_review(before, etag=etag, now=uow.now)
    _save(uow, actor=principal.username, event="submitted", before=before, after=after)
    return after


def review(
    uow: UnitOfWork, *, principal: Principal, key: str, etag: str, signature: SignatureRecord
) -> MasterBatchRecord:
    before = repository.get(uow.session, key)
    after = domain.review(before, signature=signature, etag=etag, now=uow.now)
    _save(uow, actor=principal.username, event="reviewed", before=before, after=after,
          reason=signature.reason, signature=signature)
    return after


def approve(
    uow: UnitOfWork, *, principal: Principal, key: str, etag: str, signature: SignatureRecord
) -> MasterBatchRecord:
    before = repository.get(uow.session, key)
    after = domain.approve(before, signature=signature, etag=etag, now=uow.now)
    _save(uow, actor=principal.username, event="approved", before=before, after=after,
          reason=signature.reason, signature=signature)
    return after


def reject(
    uow: UnitOfWork, *, principal: Principal, key: str, etag: str, signature: SignatureRecord
) -> MasterBatchRecord:
    before = repository.get(uow.session, key)
    after = domain.reject(before, signature=signature, etag=etag, now=uow.now)
    _save(uow, actor=principal.username, event="rejected", before=before, after=after,
          reason=signature.reason, signature=signature)
    return after


def make_effective(
    uow: UnitOfWork, *, principal: Principal, key: str, etag: str, signature: SignatureRecord
) -> tuple[MasterBatchRecord, MasterBatchRecord | None]:
    before = repository.get(uow.session, key)
    current = repository.effective(uow.session, before.record_id)
    after, superseded = domain.make_effective(
        before, signature=signature, etag=etag, site=uow.site, current=current, now=uow.now
    )
    if superseded is not None and current is not None:
        _save(uow, actor=principal.username, event="superseded", before=current,
              after=superseded, reason=f"superseded by {after.name}")
    _save(uow, actor=principal.username, event="made_effective", before=before, after=after,
          reason=signature.reason, signature=signature)
    return after, superseded
