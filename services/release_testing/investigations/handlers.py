"""OOS investigation use cases, and entering a result: an OOS opens an investigation in the
same transaction, and a retest is entered only when an investigation allows it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session
from twinline.releasetesting.v1 import investigation_pb2 as pb

from services.common.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
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
from services.release_testing.samples import repository as sample_repository
from services.release_testing.samples.domain import Entry, Result, Sample
from services.release_testing.samples.names import result_name, result_of
from services.release_testing.samples.translate import sample_from_proto


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


def create_sample(uow: UnitOfWork, *, principal: Principal, site_code: str, batch_id: str,
                  description: str, investigation: str | None) -> Sample:
    """A sample of a batch; with ``investigation``, the resample its approved plan calls for."""
    if investigation is None:
        return samples.create(uow, principal=principal, site_code=site_code,
                              batch_id=batch_id, description=description)
    planned = _load(uow, investigation)
    plan = planned.phase_two.plan if planned.phase_two is not None else None
    if planned.state is not InvestigationState.PLAN_APPROVED or plan is not PlanKind.RESAMPLE:
        raise FailedPrecondition(
            "RESAMPLE_NOT_ALLOWED", f"{planned.name} is {planned.state.value}"
            f"{'' if plan is None else f' with a {plan.value} plan'}: a resample needs its "
            "approved resample plan", name=planned.name)
    if batch_id != planned.batch_id:
        raise InvalidArgument([FieldViolation(
            "batch", f"a resample for {planned.name} is of its batch, batches/"
            f"{planned.batch_id}")])
    return samples.create(uow, principal=principal, site_code=site_code, batch_id=batch_id,
                          description=description, resample_of=f"samples/{planned.sample_id}")


def _plan_of_resample(uow: UnitOfWork, sample: Sample,
                      assignment_id: str) -> Investigation | None:
    """The investigation whose resample plan this sample's result of the assignment serves:
    of the sample it resamples, open with a resample plan, and about the same test."""
    if not sample.resample_of:
        return None
    assignment = sample.assignment(assignment_id)
    original_id = sample.resample_of.removeprefix("samples/")
    for found in repository.open_of_sample(uow.session, original_id):
        investigation = investigation_from_proto(found)
        plan = investigation.phase_two.plan if investigation.phase_two is not None else None
        if plan is not PlanKind.RESAMPLE or not investigation.retest_permitted:
            continue
        original = sample_from_proto(sample_repository.stored(uow.session, original_id)[0])
        investigated = original.result(result_of(investigation.result_name)[1])
        tested = original.assignment(investigated.assignment_id)
        if assignment is not None and tested is not None and \
                (tested.attribute, tested.method_id) == (assignment.attribute,
                                                         assignment.method_id):
            return investigation
    return None


def enter_result(uow: UnitOfWork, *, principal: Principal, site_code: str, sample_id: str,
                 etag: str, entry: Entry, signature: SignatureRecord) -> samples.Entered:
    """The result entered and judged; an OOS opens an investigation; a retest, or a
    resample's result, is recorded under the investigation whose plan called for it."""
    investigation = None
    if entry.retest_of is not None:
        found = repository.of_result(uow.session, result_name(sample_id, entry.retest_of))
        investigation = None if found is None else investigation_from_proto(found)
    else:
        investigation = _plan_of_resample(uow, samples.load(uow, sample_id),
                                          entry.assignment_id)
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
