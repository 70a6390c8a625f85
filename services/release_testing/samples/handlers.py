"""Sample use cases: load, decide in the domain, save with audit entry and event."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session
from twinline.releasetesting.v1 import sample_pb2 as pb
from twinline.releasetesting.v1.investigation_pb2 import Investigation

from services.common.domain.errors import FailedPrecondition
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.persistence.event_spec import EventSpec, record_change
from services.common.persistence.unit_of_work import UnitOfWork
from services.release_testing.projection import repository as projection
from services.release_testing.samples import domain, events, repository
from services.release_testing.samples.domain import Entry, Result, Sample
from services.release_testing.samples.names import result_name, sample_id
from services.release_testing.samples.translate import sample_from_proto, sample_to_proto
from services.release_testing.specifications import repository as specifications
from services.release_testing.specifications.translate import specification_from_proto


def save(uow: UnitOfWork, spec: EventSpec, *, actor: str, before: Sample | None,
         after: Sample, result: Result | None = None, reason: str = "") -> Sample:
    """Stores the sample with its audit entry and event (``result`` names the result the
    change is about)."""
    stored = sample_to_proto(after)
    repository.put(uow.session, after, stored, new=before is None)
    repository.index_trend(uow.session, stored)
    record_change(
        uow, spec, actor=actor, aggregate_id=after.sample_id, resource_name=after.name,
        old_state=None if before is None else sample_to_proto(before), new_state=stored,
        reason=reason, sample=stored,
        result="" if result is None else result_name(after.sample_id, result.number),
    )
    return after


def load(uow: UnitOfWork, sample_id_: str, etag: str | None = None) -> Sample:
    """This site's sample; another site's is read here, never written."""
    message, created_by = repository.stored(uow.session, sample_id_)
    sample = sample_from_proto(message, created_by)
    if sample.home_site != uow.site:
        raise FailedPrecondition(
            "NOT_HOME_SITE", f"{sample.name} belongs to the lab of {sample.home_site}: only "
            "that site records on it", name=sample.name, homeSite=sample.home_site,
        )
    if etag is not None:
        domain.check_etag(sample, etag)
    return sample


def create(uow: UnitOfWork, *, principal: Principal, site_code: str, batch_id: str,
           description: str, resample_of: str = "") -> Sample:
    """A sample of a batch of any site that this site knows of from the batch's events."""
    batch = projection.known_batch(uow.session, batch_id)
    if batch is None or not batch.product:
        raise FailedPrecondition(
            "BATCH_UNKNOWN", f"batch {batch_id} is not known here (yet): a batch is known from "
            "its events, and one created a moment ago (or at a site cut off now) is known once "
            "its event arrives, so retry", batchId=batch_id,
        )
    if batch.state == "rejected":
        raise FailedPrecondition("BATCH_REJECTED", f"batch {batch_id} is rejected",
                                 batchId=batch_id)
    effective = [specification_from_proto(message)
                 for message in specifications.effective_for(uow.session, batch.product)]
    prefix = sample_id(site_code, uow.now.year, 0)[:-5]
    number = repository.next_number(uow.session, prefix, uow.group_memo)
    sample = domain.create_sample(
        sample_id=sample_id(site_code, uow.now.year, number), site=uow.site, batch_id=batch_id,
        product=batch.product, description=description, specifications=effective,
        created_by=principal.username, now=uow.now, resample_of=resample_of,
    )
    return save(uow, events.CREATED, actor=principal.username, before=None, after=sample)


@dataclass(frozen=True)
class Entered:
    sample: Sample
    result: Result
    # The OOS investigation the result opened, if it failed a criterion.
    investigation: Investigation | None = None


def enter_result(uow: UnitOfWork, *, principal: Principal, sample_id: str, etag: str,
                 entry: Entry, signature: SignatureRecord,
                 retest_permitted: bool) -> Entered:
    """The result judged and stored; ``retest_permitted``: an investigation of the result it
    retests allows one (release testing's investigations decide, and call this)."""
    before = load(uow, sample_id, etag)
    assignment = before.assignment(entry.assignment_id)
    history = [] if assignment is None else repository.trend_history(
        uow.session, product=before.product, attribute=assignment.attribute,
        method_id=assignment.method_id, other_than=before.batch_id)
    after, result = domain.enter_result(before, entry, signature=signature,
                                        retest_permitted=retest_permitted, now=uow.now,
                                        history=history)
    save(uow, events.RESULT_ENTERED, actor=principal.username, before=before, after=after,
         result=result)
    return Entered(after, result)


def review_result(uow: UnitOfWork, *, principal: Principal, key: tuple[str, int], etag: str,
                  signature: SignatureRecord) -> tuple[Sample, Result]:
    sample_id_, number = key
    before = load(uow, sample_id_, etag)
    after, result = domain.review_result(before, number, signature=signature, now=uow.now)
    save(uow, events.RESULT_REVIEWED, actor=principal.username, before=before, after=after,
         result=result)
    return after, result


def invalidate_result(uow: UnitOfWork, *, actor: str, sample_id: str, number: int,
                      reason: str) -> Sample:
    """Marks a result invalid for an investigation's reason (no etag: the investigation's
    own transition is the change a person asked for)."""
    before = load(uow, sample_id)
    after, result = domain.invalidate_result(before, number, reason=reason, now=uow.now)
    if after is before:
        return before
    return save(uow, events.RESULT_INVALIDATED, actor=actor, before=before, after=after,
                result=result, reason=reason)


def get(session: Session, sample_id_: str) -> pb.Sample:
    return repository.stored(session, sample_id_)[0]
