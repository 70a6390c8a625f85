"""Specification use cases: load, decide in the domain, save with audit entry and event."""

from __future__ import annotations

from sqlmodel import Session
from twinline.releasetesting.v1 import specification_pb2 as pb

from services.common.domain.errors import FailedPrecondition
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.persistence.event_spec import EventSpec, record_change
from services.common.persistence.unit_of_work import UnitOfWork
from services.release_testing.specifications import domain, events, repository
from services.release_testing.specifications.domain import Purpose, Specification, SpecTest
from services.release_testing.specifications.names import spec_id as new_spec_id
from services.release_testing.specifications.translate import (
    specification_from_proto,
    specification_to_proto,
)


def _save(uow: UnitOfWork, spec_event: EventSpec, *, actor: str, before: Specification | None,
          after: Specification, new: bool = False) -> Specification:
    stored = specification_to_proto(after)
    repository.put(uow.session, after, stored, new=new)
    record_change(
        uow, spec_event, actor=actor, aggregate_id=f"{after.spec_id}/{after.version}",
        resource_name=after.name,
        old_state=None if before is None else specification_to_proto(before),
        new_state=stored, specification=stored,
    )
    return after


def _load(uow: UnitOfWork, key: tuple[str, int], etag: str | None = None) -> Specification:
    spec = specification_from_proto(repository.stored(uow.session, *key))
    if spec.home_site != uow.site:
        raise FailedPrecondition(
            "NOT_HOME_SITE", f"{spec.name} belongs to {spec.home_site}: only its home site "
            "changes it", name=spec.name, homeSite=spec.home_site,
        )
    if etag is not None:
        domain.check_etag(spec, etag)
    return spec


def create(uow: UnitOfWork, *, principal: Principal, site_code: str, product: str,
           purpose: Purpose, market: str, title: str,
           tests: tuple[SpecTest, ...]) -> Specification:
    number = repository.next_number(uow.session, uow.site, uow.group_memo)
    spec = domain.create_specification(
        spec_id=new_spec_id(site_code, number), site=uow.site, product=product,
        purpose=purpose, market=market, title=title, tests=tests, author=principal,
        now=uow.now,
    )
    return _save(uow, events.CREATED, actor=principal.username, before=None, after=spec,
                 new=True)


def create_version(uow: UnitOfWork, *, principal: Principal, spec_id: str) -> Specification:
    latest = _load(uow, (spec_id, repository.latest_version(uow.session, spec_id)))
    draft = domain.new_version(latest, author=principal, now=uow.now)
    return _save(uow, events.CREATED, actor=principal.username, before=None, after=draft,
                 new=True)


def update(uow: UnitOfWork, *, principal: Principal, key: tuple[str, int], etag: str,
           title: str, tests: tuple[SpecTest, ...]) -> Specification:
    before = _load(uow, key, etag)
    return _save(uow, events.UPDATED, actor=principal.username, before=before,
                 after=domain.update(before, title=title, tests=tests, now=uow.now))


def approve(uow: UnitOfWork, *, principal: Principal, key: tuple[str, int], etag: str,
            signature: SignatureRecord) -> Specification:
    before = _load(uow, key, etag)
    return _save(uow, events.APPROVED, actor=principal.username, before=before,
                 after=domain.approve(before, signature=signature, now=uow.now))


def make_effective(uow: UnitOfWork, *, principal: Principal, key: tuple[str, int], etag: str,
                   signature: SignatureRecord) -> tuple[Specification, Specification | None]:
    """The version effective, and the one it superseded (in the same transaction)."""
    before = _load(uow, key, etag)
    previous_version = repository.effective_version(uow.session, before.spec_id)
    superseded = None
    if previous_version is not None:
        previous = _load(uow, (before.spec_id, previous_version))
        superseded = _save(uow, events.SUPERSEDED, actor=principal.username, before=previous,
                           after=domain.supersede(previous, now=uow.now))
    effective = _save(uow, events.EFFECTIVE, actor=principal.username, before=before,
                      after=domain.make_effective(before, signature=signature, now=uow.now))
    return effective, superseded


def get(session: Session, key: tuple[str, int]) -> pb.Specification:
    return repository.stored(session, *key)
