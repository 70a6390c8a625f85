"""OOS investigation use cases, and entering a result: an OOS opens an investigation in the
same transaction, and a retest is entered only when an investigation allows it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session
from twinline.releasetesting.v1 import investigation_pb2 as pb

from services.common.domain.errors import FailedPrecondition
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.persistence.event_spec import EventSpec, record_change
from services.common.persistence.unit_of_work import UnitOfWork
from services.release_testing.investigations import domain, events, repository
from services.release_testing.investigations.domain import (
    Cause,
    Investigation,
    InvestigationState,
    PlanKind,
)
from services.release_testing.investigations.names import investigation_id
from services.release_testing.investigations.translate import (
    investigation_from_proto,
    investigation_to_proto,
)
from services.release_testing.samples import handlers as samples
from services.release_testing.samples.domain import Entry, Result, Sample
from services.release_testing.samples.names import result_name, result_of


def _save(uow: UnitOfWork, spec: EventSpec, *, actor: str, before: Investigation | None,
          after: Investigation) -> Investigation:
    stored = investigation_to_proto(after)
    repository.put(uow.session, after, stored, new=before is None)
    record_change(
        uow, spec, actor=actor, aggregate_id=after.investigation_id, resource_name=after.name,
        old_state=None if before is None else investigation_to_proto(before), new_state=stored,
        investigation=stored,
    )
    return after


def _load(uow: UnitOfWork, investigation_id_: str, etag: str | None = None) -> Investigation:
    investigation = investigation_from_proto(repository.stored(uow.session, investigation_id_))
    if investigation.home_site != uow.site:
        raise FailedPrecondition(
            "NOT_HOME_SITE", f"{investigation.name} belongs to {investigation.home_site}: only "
            "its lab's site investigates", name=investigation.name)
    if etag is not None:
        domain.check_etag(investigation, etag)
    return investigation


def _open(uow: UnitOfWork, actor: str, site_code: str, sample: Sample,
          result: Result) -> Investigation:
    prefix = investigation_id(site_code, uow.now.year, 0)[:-5]
    number = repository.next_number(uow.session, prefix, uow.group_memo)
    opened = domain.open_investigation(
        investigation_id=investigation_id(site_code, uow.now.year, number),
        sample_id=sample.sample_id, result_name=result_name(sample.sample_id, result.number),
        batch_id=sample.batch_id, home_site=uow.site, now=uow.now,
    )
    return _save(uow, events.OPENED, actor=actor, before=None, after=opened)


def enter_result(uow: UnitOfWork, *, principal: Principal, site_code: str, sample_id: str,
                 etag: str, entry: Entry, signature: SignatureRecord) -> samples.Entered:
    """The result entered and judged; an OOS opens an investigation; a retest is recorded
    under the investigation that allowed it."""
    investigation = None
    if entry.retest_of is not None:
        found = repository.of_result(uow.session, result_name(sample_id, entry.retest_of))
        investigation = None if found is None else investigation_from_proto(found)
    permitted = investigation is not None and investigation.retest_permitted
    entered = samples.enter_result(uow, principal=principal, sample_id=sample_id, etag=etag,
                                   entry=entry, signature=signature, retest_permitted=permitted)
    if investigation is not None and permitted:
        followed = domain.record_follow_up(
            investigation, result_name=result_name(sample_id, entered.result.number),
            now=uow.now)
        _save(uow, events.CLOSED if not followed.is_open else events.FOLLOW_UP_RECORDED,
              actor=principal.username, before=investigation, after=followed)
    # A plan's results are judged within its investigation; any other OOS opens one, the
    # retest after a phase I invalidation too (the original was invalid: this one counts).
    under_plan = permitted and investigation is not None and \
        investigation.state is InvestigationState.PLAN_APPROVED
    opened = None
    if entered.result.failed and not under_plan:
        opened = investigation_to_proto(
            _open(uow, principal.username, site_code, entered.sample, entered.result))
    return samples.Entered(entered.sample, entered.result, opened)


def _invalidate_original(uow: UnitOfWork, actor: str, investigation: Investigation) -> None:
    if domain.invalidates_original(investigation):
        sample_id_, number = result_of(investigation.result_name)
        samples.invalidate_result(uow, actor=actor, sample_id=sample_id_, number=number,
                                  reason=domain.invalidation_reason(investigation))


def conclude_phase_one(uow: UnitOfWork, *, principal: Principal, key: str, etag: str,
                       signature: SignatureRecord, causes: Sequence[Cause],
                       summary: str) -> Investigation:
    before = _load(uow, key, etag)
    after = domain.conclude_phase_one(before, causes=causes, summary=summary,
                                      signature=signature, now=uow.now)
    _save(uow, events.PHASE_ONE_CONCLUDED, actor=principal.username, before=before,
          after=after)
    _invalidate_original(uow, principal.username, after)
    return after


def record_manufacturing_review(uow: UnitOfWork, *, principal: Principal, key: str,
                                etag: str, signature: SignatureRecord,
                                review: str) -> Investigation:
    before = _load(uow, key, etag)
    return _save(uow, events.MANUFACTURING_REVIEWED, actor=principal.username, before=before,
                 after=domain.record_manufacturing_review(before, review=review,
                                                          signature=signature, now=uow.now))


def approve_test_plan(uow: UnitOfWork, *, principal: Principal, key: str, etag: str,
                      signature: SignatureRecord, plan: PlanKind | None,
                      replicates: int) -> Investigation:
    before = _load(uow, key, etag)
    return _save(uow, events.PLAN_APPROVED, actor=principal.username, before=before,
                 after=domain.approve_test_plan(before, plan=plan, replicates=replicates,
                                                signature=signature, now=uow.now))


def conclude_phase_two(uow: UnitOfWork, *, principal: Principal, key: str, etag: str,
                       signature: SignatureRecord, oos_confirmed: bool,
                       causes: Sequence[Cause], conclusion: str) -> Investigation:
    before = _load(uow, key, etag)
    after = domain.conclude_phase_two(before, oos_confirmed=oos_confirmed, causes=causes,
                                      conclusion=conclusion, signature=signature, now=uow.now)
    _save(uow, events.CLOSED, actor=principal.username, before=before, after=after)
    _invalidate_original(uow, principal.username, after)
    return after


def get(session: Session, investigation_id_: str) -> pb.Investigation:
    return repository.stored(session, investigation_id_)
