"""A transfer package between two sites: the sending site's part and the receiving site's
receipt, each written only by its own site. Pure.

The sender drafts, sends (QA, e-signed) and, after a return, revises. The receiving site's
service acknowledges receipt when the sent package's event arrives; its people review, then
accept (QA, e-signed: the master record becomes effective there) or return with comments.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from services.common.domain import bounds, etags
from services.common.domain.errors import FailedPrecondition, Violations
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureRecord
from services.tech_transfer.packages.names import package_name

AUTHOR_ROLES = (Role.PROCESS_ENGINEER, Role.QA)
SENDER_ROLES = (Role.QA,)
REVIEWER_ROLES = (Role.QA, Role.PROCESS_ENGINEER)
ACCEPTOR_ROLES = (Role.QA,)
RISKS = ("low", "medium", "high")
MAX_ITEMS = 100


class State(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    ACCEPTED = "accepted"
    RETURNED = "returned"


class ReceiptState(StrEnum):
    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    ACCEPTED = "accepted"
    RETURNED = "returned"


@dataclass(frozen=True)
class ProvenRange:
    parameter: str
    unit: str
    low: Decimal | None
    high: Decimal | None


@dataclass(frozen=True)
class MaterialAttribute:
    material: str
    attribute: str
    requirement: str


@dataclass(frozen=True)
class GapItem:
    gap_id: str
    description: str
    risk: str
    closed_by: str = ""


@dataclass(frozen=True)
class Criterion:
    attribute: str
    margin: Decimal
    batches: int


@dataclass(frozen=True)
class Content:
    """What travels: the master record version (its stored form, opaque here) and the rest."""

    master_name: str
    master_document: bytes
    product: str
    specifications: tuple[str, ...] = ()
    method_ids: tuple[str, ...] = ()
    proven_ranges: tuple[ProvenRange, ...] = ()
    material_attributes: tuple[MaterialAttribute, ...] = ()
    gaps: tuple[GapItem, ...] = ()
    comparability: tuple[Criterion, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class Receipt:
    revision: int  # the package revision it is the receipt of
    state: ReceiptState
    comments: str
    signatures: tuple[SignatureRecord, ...]
    receive_time: datetime
    update_time: datetime
    version: int = 1  # its etag

    @property
    def etag(self) -> str:
        return str(self.version)


@dataclass(frozen=True)
class Package:
    package_id: str
    sending_site: str
    receiving_site: str
    revision: int
    sent: bool
    content: Content
    author: str
    signatures: tuple[SignatureRecord, ...]
    create_time: datetime
    update_time: datetime
    version: int = 1  # the sender part's etag
    receipt: Receipt | None = None

    @property
    def name(self) -> str:
        return package_name(self.package_id)

    @property
    def etag(self) -> str:
        return str(self.version)

    @property
    def state(self) -> State:
        receipt = self.receipt
        if receipt is not None and receipt.revision == self.revision:
            return State(receipt.state.value)
        return State.SENT if self.sent else State.DRAFT


def check_content(content: Content, violations: Violations, at: str = "package") -> None:
    for field, items in (("specifications", content.specifications),
                         ("method_ids", content.method_ids),
                         ("proven_ranges", content.proven_ranges),
                         ("material_attributes", content.material_attributes),
                         ("gaps", content.gaps), ("comparability", content.comparability)):
        if len(items) > MAX_ITEMS:
            violations.add(f"{at}.{field}", f"at most {MAX_ITEMS}")
    for index, method in enumerate(content.method_ids):
        bounds.text(f"{at}.method_ids[{index}]", method, bounds.ID_LEN, violations,
                    required=True)
    for index, proven in enumerate(content.proven_ranges):
        where = f"{at}.proven_ranges[{index}]"
        bounds.text(f"{where}.parameter", proven.parameter, bounds.NAME_LEN, violations,
                    required=True)
        if proven.low is None and proven.high is None:
            violations.add(where, "a proven range needs a low or a high bound")
        elif proven.low is not None and proven.high is not None and proven.low > proven.high:
            violations.add(where, f"low {proven.low} is above high {proven.high}")
    for index, material in enumerate(content.material_attributes):
        where = f"{at}.material_attributes[{index}]"
        bounds.text(f"{where}.material", material.material, bounds.NAME_LEN, violations,
                    required=True)
        bounds.text(f"{where}.requirement", material.requirement, bounds.NAME_LEN, violations,
                    required=True)
    for index, gap in enumerate(content.gaps):
        where = f"{at}.gaps[{index}]"
        bounds.text(f"{where}.description", gap.description, bounds.COMMENT_LEN, violations,
                    required=True)
        if gap.risk not in RISKS:
            violations.add(f"{where}.risk", f"must be one of {', '.join(RISKS)}")
    for index, criterion in enumerate(content.comparability):
        where = f"{at}.comparability[{index}]"
        bounds.text(f"{where}.attribute", criterion.attribute, bounds.NAME_LEN, violations,
                    required=True)
        if criterion.margin <= 0:
            violations.add(f"{where}.margin", "must be above 0")
        if not 2 <= criterion.batches <= 100:
            violations.add(f"{where}.batches", "must be 2-100")
    bounds.text(f"{at}.notes", content.notes, bounds.TEXT_LEN, violations)


def create_package(*, package_id: str, sending_site: str, receiving_site: str,
                   content: Content, author: str, now: datetime) -> Package:
    if receiving_site == sending_site:
        violations = Violations()
        violations.add("package.receiving_site", "a transfer goes to another site")
        violations.raise_if_any()
    return Package(package_id=package_id, sending_site=sending_site,
                   receiving_site=receiving_site, revision=1, sent=False, content=content,
                   author=author, signatures=(), create_time=now, update_time=now)


def send(package: Package, *, signature: SignatureRecord, now: datetime) -> Package:
    _require(package, "sent", State.DRAFT)
    return _changed(package, now, sent=True, signatures=(*package.signatures, signature))


def revise(package: Package, *, content: Content, now: datetime) -> Package:
    """A returned package's next revision, a draft again."""
    _require(package, "revised", State.RETURNED)
    return _changed(package, now, revision=package.revision + 1, sent=False, content=content)


def receive(package: Package, *, now: datetime) -> Package:
    """The receiving site's service acknowledges a sent revision (once per revision)."""
    if not package.sent or (package.receipt is not None and
                            package.receipt.revision >= package.revision):
        return package
    receipt = Receipt(revision=package.revision, state=ReceiptState.RECEIVED, comments="",
                      signatures=(), receive_time=now, update_time=now,
                      version=1 if package.receipt is None else package.receipt.version + 1)
    return replace(package, receipt=receipt)


def start_review(package: Package, *, now: datetime) -> Package:
    receipt = _receipt(package, "reviewed", ReceiptState.RECEIVED)
    return replace(package, receipt=_receipt_changed(receipt, now,
                                                     state=ReceiptState.UNDER_REVIEW))


def accept(package: Package, *, signature: SignatureRecord, now: datetime) -> Package:
    receipt = _receipt(package, "accepted", ReceiptState.UNDER_REVIEW)
    return replace(package, receipt=_receipt_changed(
        receipt, now, state=ReceiptState.ACCEPTED, signatures=(*receipt.signatures, signature)))


def return_package(package: Package, *, comments: str, signature: SignatureRecord,
                   now: datetime) -> Package:
    violations = Violations()
    bounds.text("comments", comments, bounds.TEXT_LEN, violations, required=True)
    violations.raise_if_any()
    receipt = _receipt(package, "returned", ReceiptState.UNDER_REVIEW)
    return replace(package, receipt=_receipt_changed(
        receipt, now, state=ReceiptState.RETURNED, comments=comments,
        signatures=(*receipt.signatures, signature)))


def check_etag(package: Package, etag: str) -> None:
    etags.check_etag(package.name, package.etag, etag)


def check_receipt_etag(package: Package, etag: str) -> None:
    receipt = package.receipt
    etags.check_etag(f"{package.name} receipt", "" if receipt is None else receipt.etag, etag)


def _require(package: Package, action: str, *states: State) -> None:
    if package.state not in states:
        raise FailedPrecondition(
            "PACKAGE_STATE", f"{package.name} is {package.state.value}: it can be {action} "
            f"only when {' or '.join(s.value for s in states)}", name=package.name,
            state=package.state.value)


def _receipt(package: Package, action: str, state: ReceiptState) -> Receipt:
    receipt = package.receipt
    if receipt is None or receipt.revision != package.revision or receipt.state is not state:
        raise FailedPrecondition(
            "PACKAGE_STATE", f"{package.name} is {package.state.value}: it can be {action} "
            f"only when {state.value}", name=package.name, state=package.state.value)
    return receipt


def _changed(package: Package, now: datetime, **changes: object) -> Package:
    return replace(package, update_time=now, version=package.version + 1, **changes)  # type: ignore[arg-type]


def _receipt_changed(receipt: Receipt, now: datetime, **changes: object) -> Receipt:
    return replace(receipt, update_time=now, version=receipt.version + 1, **changes)  # type: ignore[arg-type]
