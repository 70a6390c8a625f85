"""Transfer packages: protobuf ⇄ domain."""

from __future__ import annotations

from decimal import Decimal

from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as api
from twinline.techtransfer.v1 import transfer_pb2 as pb

from services.common.domain import bounds
from services.common.domain.errors import Violations
from services.common.grpc.translate import (
    enum_map,
    inverse,
    moment,
    signature_from_proto,
    signature_to_proto,
    timestamp,
)
from services.tech_transfer.packages.comparability import Comparison
from services.tech_transfer.packages.domain import (
    Content,
    Criterion,
    GapItem,
    MaterialAttribute,
    Package,
    ProvenRange,
    Receipt,
    ReceiptState,
    State,
)
from services.tech_transfer.packages.recipe_diff import Change

STATE_TO_PROTO = enum_map(State, pb.TransferState, "TRANSFER_STATE")
RECEIPT_TO_PROTO = enum_map(ReceiptState, pb.ReceiptState, "RECEIPT_STATE")
RECEIPT_FROM_PROTO = inverse(RECEIPT_TO_PROTO)


def _decimal(text: str, field: str, violations: Violations) -> Decimal | None:
    return bounds.decimal(field, text, violations) if text.strip() else None


def content_from_proto(given: pb.TransferPackage, master: mbr_pb.MasterBatchRecord,
                       violations: Violations) -> Content:
    """The content a request carries, with the master record as this site knows it."""
    return Content(
        master_name=master.name, master_document=master.SerializeToString(),
        product=master.product, specifications=tuple(given.specifications),
        method_ids=tuple(given.method_ids),
        proven_ranges=tuple(
            ProvenRange(r.parameter, r.unit,
                        _decimal(r.low, f"package.proven_ranges[{i}].low", violations),
                        _decimal(r.high, f"package.proven_ranges[{i}].high", violations))
            for i, r in enumerate(given.proven_ranges)),
        material_attributes=tuple(MaterialAttribute(m.material, m.attribute, m.requirement)
                                  for m in given.material_attributes),
        gaps=tuple(GapItem(g.gap_id, g.description, g.risk, g.closed_by) for g in given.gaps),
        comparability=tuple(
            Criterion(c.attribute, _decimal(c.margin, f"package.comparability[{i}].margin",
                                            violations) or Decimal(0), c.batches)
            for i, c in enumerate(given.comparability)),
        notes=given.notes,
    )


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def package_to_proto(package: Package) -> pb.TransferPackage:
    content = package.content
    message = pb.TransferPackage(
        name=package.name, package_id=package.package_id, sending_site=package.sending_site,
        receiving_site=package.receiving_site, revision=package.revision,
        state=STATE_TO_PROTO[package.state],
        master_batch_record=mbr_pb.MasterBatchRecord.FromString(content.master_document),
        specifications=list(content.specifications), method_ids=list(content.method_ids),
        proven_ranges=[pb.ProvenRange(parameter=r.parameter, unit=r.unit, low=_text(r.low),
                                      high=_text(r.high)) for r in content.proven_ranges],
        material_attributes=[pb.MaterialAttribute(material=m.material, attribute=m.attribute,
                                                  requirement=m.requirement)
                             for m in content.material_attributes],
        gaps=[pb.GapItem(gap_id=g.gap_id, description=g.description, risk=g.risk,
                         closed_by=g.closed_by) for g in content.gaps],
        comparability=[pb.ComparabilityCriterion(attribute=c.attribute, margin=str(c.margin),
                                                 batches=c.batches)
                       for c in content.comparability],
        notes=content.notes, author=package.author,
        signatures=[signature_to_proto(s) for s in package.signatures],
        create_time=timestamp(package.create_time), update_time=timestamp(package.update_time),
        etag=package.etag,
    )
    if package.receipt is not None:
        message.receipt.CopyFrom(receipt_to_proto(package.receipt))
    return message


def receipt_to_proto(receipt: Receipt) -> pb.Receipt:
    return pb.Receipt(
        revision=receipt.revision, state=RECEIPT_TO_PROTO[receipt.state],
        comments=receipt.comments, signatures=[signature_to_proto(s) for s in receipt.signatures],
        receive_time=timestamp(receipt.receive_time), update_time=timestamp(receipt.update_time),
        etag=receipt.etag,
    )


def receipt_from_proto(message: pb.Receipt) -> Receipt:
    return Receipt(
        revision=message.revision, state=RECEIPT_FROM_PROTO[message.state],
        comments=message.comments,
        signatures=tuple(signature_from_proto(s) for s in message.signatures),
        receive_time=moment(message.receive_time), update_time=moment(message.update_time),
        version=int(message.etag),
    )


def package_from_proto(message: pb.TransferPackage) -> Package:
    """A stored package (its document), which passed every check when it was written."""
    ignored = Violations()
    return Package(
        package_id=message.package_id, sending_site=message.sending_site,
        receiving_site=message.receiving_site, revision=message.revision,
        sent=message.state != pb.TRANSFER_STATE_DRAFT,
        content=content_from_proto(message, message.master_batch_record, ignored),
        author=message.author,
        signatures=tuple(signature_from_proto(s) for s in message.signatures),
        create_time=moment(message.create_time), update_time=moment(message.update_time),
        version=int(message.etag),
        receipt=receipt_from_proto(message.receipt) if message.HasField("receipt") else None,
    )


def change_to_proto(change: Change) -> api.RecipeChange:
    return api.RecipeChange(kind=api.RecipeChangeKind.Value(
        f"RECIPE_CHANGE_KIND_{change.kind.name}"), path=change.path, before=change.before,
        after=change.after, detail=change.detail)


def comparison_to_proto(comparison: Comparison) -> api.AttributeComparison:
    def text(value: Decimal | None) -> str:
        return "" if value is None else str(value)

    return api.AttributeComparison(
        attribute=comparison.attribute, sending_batches=comparison.sending_n,
        receiving_batches=comparison.receiving_n, sending_mean=text(comparison.sending_mean),
        receiving_mean=text(comparison.receiving_mean), difference=text(comparison.difference),
        lower=text(comparison.lower), upper=text(comparison.upper),
        confidence=str(comparison.confidence), margin=str(comparison.margin),
        p_value=text(comparison.p_value),
        verdict=api.ComparabilityVerdict.Value(
            f"COMPARABILITY_VERDICT_{comparison.verdict.name}"),
    )
