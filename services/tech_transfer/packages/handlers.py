"""Transfer package use cases at either end: load, decide in the domain, save with audit
entry and event. Each site writes only its own part."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlmodel import Session
from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.techtransfer.v1 import transfer_pb2 as pb

from services.common.domain.errors import FailedPrecondition, NotFound, Violations
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureRecord
from services.common.persistence.event_spec import EventSpec, record_change
from services.common.persistence.unit_of_work import UnitOfWork
from services.tech_transfer.packages import domain, events, repository
from services.tech_transfer.packages.comparability import Comparison, Verdict, compare
from services.tech_transfer.packages.domain import Package
from services.tech_transfer.packages.names import package_id as new_package_id
from services.tech_transfer.packages.names import package_id_of
from services.tech_transfer.packages.recipe_diff import Change, Recipe, diff
from services.tech_transfer.packages.recipe_translate import recipe_from_proto
from services.tech_transfer.packages.translate import (
    content_from_proto,
    package_from_proto,
    package_to_proto,
)
from services.tech_transfer.projection import repository as results


def save(uow: UnitOfWork, spec: EventSpec, *, actor: str, before: Package | None,
         after: Package, reason: str = "") -> Package:
    stored = package_to_proto(after)
    repository.put(uow.session, stored)
    record_change(
        uow, spec, actor=actor, aggregate_id=after.package_id, resource_name=after.name,
        old_state=None if before is None else package_to_proto(before), new_state=stored,
        reason=reason, package=stored,
    )
    return after


def _effective_master(uow: UnitOfWork, name: str) -> mbr_pb.MasterBatchRecord:
    master = repository.master(uow.session, name)
    if master is None or master.home_site != uow.site or \
            master.state != mbr_pb.MASTER_BATCH_RECORD_STATE_EFFECTIVE:
        raise FailedPrecondition(
            "MASTER_RECORD_NOT_EFFECTIVE_HERE", f"{name} is not an effective master record "
            f"version of {uow.site} (as its events tell): only such a version is sent",
            masterBatchRecord=name)
    return master


def create(uow: UnitOfWork, *, principal: Principal, site_code: str,
           given: pb.TransferPackage) -> Package:
    master = _effective_master(uow, given.master_batch_record.name)
    violations = Violations()
    content = content_from_proto(given, master, violations)
    domain.check_content(content, violations)
    violations.raise_if_any()
    number = repository.next_number(uow.session, uow.site, uow.group_memo)
    package = domain.create_package(
        package_id=new_package_id(site_code, number), sending_site=uow.site,
        receiving_site=given.receiving_site, content=content, author=principal.username,
        now=uow.now)
    return save(uow, events.CREATED, actor=principal.username, before=None, after=package)


def _load(uow: UnitOfWork, package_id: str, *, sending: bool) -> Package:
    package = package_from_proto(repository.stored(uow.session, package_id))
    end = package.sending_site if sending else package.receiving_site
    if end != uow.site:
        role = "sending" if sending else "receiving"
        raise FailedPrecondition(
            f"NOT_{role.upper()}_SITE", f"{package.name} is sent by {package.sending_site} "
            f"to {package.receiving_site}: only the {role} site ({end}) takes this step",
            name=package.name)
    return package


def send(uow: UnitOfWork, *, principal: Principal, key: str, etag: str,
         signature: SignatureRecord) -> Package:
    before = _load(uow, key, sending=True)
    domain.check_etag(before, etag)
    return save(uow, events.SENT, actor=principal.username, before=before,
                after=domain.send(before, signature=signature, now=uow.now))


def revise(uow: UnitOfWork, *, principal: Principal, key: str, etag: str,
           given: pb.TransferPackage) -> Package:
    before = _load(uow, key, sending=True)
    domain.check_etag(before, etag)
    master = _effective_master(uow, given.master_batch_record.name)
    violations = Violations()
    content = content_from_proto(given, master, violations)
    domain.check_content(content, violations)
    violations.raise_if_any()
    return save(uow, events.REVISED, actor=principal.username, before=before,
                after=domain.revise(before, content=content, now=uow.now))


def _receiving_step(uow: UnitOfWork, spec: EventSpec, actor: str, key: str, etag: str,
                    step: Callable[[Package], Package], reason: str = "") -> Package:
    before = _load(uow, key, sending=False)
    domain.check_receipt_etag(before, etag)
    return save(uow, spec, actor=actor, before=before, after=step(before), reason=reason)


def start_review(uow: UnitOfWork, *, principal: Principal, key: str, etag: str) -> Package:
    return _receiving_step(uow, events.REVIEW_STARTED, principal.username, key, etag,
                           lambda p: domain.start_review(p, now=uow.now))


def accept(uow: UnitOfWork, *, principal: Principal, key: str, etag: str,
           signature: SignatureRecord) -> Package:
    return _receiving_step(uow, events.ACCEPTED, principal.username, key, etag,
                           lambda p: domain.accept(p, signature=signature, now=uow.now))


def return_package(uow: UnitOfWork, *, principal: Principal, key: str, etag: str,
                   signature: SignatureRecord, comments: str) -> Package:
    return _receiving_step(
        uow, events.RETURNED, principal.username, key, etag,
        lambda p: domain.return_package(p, comments=comments, signature=signature,
                                        now=uow.now), reason=comments)


def get(session: Session, package_id: str) -> pb.TransferPackage:
    return repository.stored(session, package_id)


def _version(session: Session, name: str, field: str) -> mbr_pb.MasterBatchRecord:
    """A master record version known here: this site's own, or one a package carries."""
    found = repository.master(session, name)
    if found is None:
        for _, package in repository.page(session, after=None, size=1_000):
            if package.master_batch_record.name == name:
                return package.master_batch_record
        raise NotFound("MASTER_RECORD_NOT_KNOWN", f"{field}: {name} is not known here (this "
                       "site's own versions and those its packages carry are)", name=name)
    return found


def recipe_diff(session: Session, *, before: str, after: str, package: str
                ) -> tuple[str, str, tuple[Change, ...]]:
    """(before, after, changes): two versions, or what the package's receiving site runs of
    the product against the package's version."""
    if package:
        transfer = repository.stored(session, package_id_of(package, "package"))
        new = transfer.master_batch_record
        running = repository.effective_of_product(session, new.product, transfer.receiving_site)
        old_recipe = recipe_from_proto(running) if running is not None else Recipe(())
        return (running.name if running is not None else "", new.name,
                diff(old_recipe, recipe_from_proto(new)))
    old = _version(session, before, "before")
    new = _version(session, after, "after")
    return old.name, new.name, diff(recipe_from_proto(old), recipe_from_proto(new))


def comparability(session: Session, *, package: str, site_codes: dict[str, str]
                  ) -> tuple[list[Comparison], list[tuple[str, str, bool]]]:
    """Each criterion of the package compared between its sites' batches, and the gaps."""
    transfer = repository.stored(session, package_id_of(package, "package"))
    product = transfer.master_batch_record.product
    compared = []
    for criterion in transfer.comparability:
        sending = results.values_by_batch(session, product, criterion.attribute,
                                          site_codes[transfer.sending_site])
        receiving = results.values_by_batch(session, product, criterion.attribute,
                                            site_codes[transfer.receiving_site])
        compared.append(compare(criterion.attribute, sending, receiving,
                                Decimal(criterion.margin), min_batches=criterion.batches))
    equivalent = {c.attribute for c in compared if c.verdict is Verdict.EQUIVALENT}
    gaps = [(gap.gap_id, gap.closed_by, bool(gap.closed_by) and gap.closed_by in equivalent)
            for gap in transfer.gaps]
    return compared, gaps
