"""Specifications: protobuf ⇄ domain. A request's decimals are parsed here, each bad one named."""

from __future__ import annotations

from decimal import Decimal

from twinline.releasetesting.v1 import specification_pb2 as pb

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
from services.release_testing.specifications.criteria import Bound, Criterion, Range
from services.release_testing.specifications.domain import Purpose, Specification, SpecTest, State

STATE_TO_PROTO = enum_map(State, pb.SpecificationState, "SPECIFICATION_STATE")
STATE_FROM_PROTO = inverse(STATE_TO_PROTO)
PURPOSE_TO_PROTO = enum_map(Purpose, pb.Purpose, "PURPOSE")
PURPOSE_FROM_PROTO = inverse(PURPOSE_TO_PROTO)


def _bound(text: str, exclusive: bool, field: str, violations: Violations) -> Bound | None:
    if not text.strip():
        return None
    value = bounds.decimal(field, text, violations)
    return None if value is None else Bound(value, exclusive)


def range_from_proto(limits: pb.Range, at: str, violations: Violations) -> Range:
    return Range(_bound(limits.low, limits.low_exclusive, f"{at}.low", violations),
                 _bound(limits.high, limits.high_exclusive, f"{at}.high", violations))


def range_to_proto(limits: Range | None) -> pb.Range | None:
    if limits is None:
        return None
    message = pb.Range()
    if limits.low is not None:
        message.low, message.low_exclusive = str(limits.low.value), limits.low.exclusive
    if limits.high is not None:
        message.high, message.high_exclusive = str(limits.high.value), limits.high.exclusive
    return message


def test_from_proto(test: pb.SpecificationTest, at: str, violations: Violations) -> SpecTest:
    kind = test.WhichOneof("criterion")
    criterion = Criterion()
    if kind == "range":
        criterion = Criterion(range=range_from_proto(test.range, f"{at}.range", violations))
    elif kind == "not_more_than_loq":
        loq = bounds.decimal(f"{at}.not_more_than_loq", test.not_more_than_loq, violations)
        if loq is not None and loq <= 0:
            violations.add(f"{at}.not_more_than_loq", "the LOQ must be above 0")
        criterion = Criterion(loq=loq or Decimal(0))
    elif kind == "qualitative":
        criterion = Criterion(outcome=test.qualitative)
    else:
        violations.add(f"{at}.criterion", "is required: range, not_more_than_loq or qualitative")
    alert = range_from_proto(test.alert, f"{at}.alert", violations) if test.HasField(
        "alert") else None
    return SpecTest(
        test_id=test.test_id, attribute=test.attribute, method_id=test.method_id,
        unit=test.unit, decimals=test.decimals, replicates=test.replicates,
        average_replicates=test.average_replicates, criterion=criterion, alert=alert,
    )


def tests_from_proto(tests: list[pb.SpecificationTest], violations: Violations,
                     prefix: str = "specification") -> tuple[SpecTest, ...]:
    if len(tests) > 100:
        return ()
    return tuple(test_from_proto(test, f"{prefix}.tests[{index}]", violations)
                 for index, test in enumerate(tests))


def test_to_proto(test: SpecTest) -> pb.SpecificationTest:
    message = pb.SpecificationTest(
        test_id=test.test_id, attribute=test.attribute, method_id=test.method_id,
        unit=test.unit, decimals=test.decimals, replicates=test.replicates,
        average_replicates=test.average_replicates, alert=range_to_proto(test.alert),
    )
    criterion = test.criterion
    if criterion.outcome is not None:
        message.qualitative = criterion.outcome
    elif criterion.loq is not None:
        message.not_more_than_loq = str(criterion.loq)
    else:
        message.range.CopyFrom(range_to_proto(criterion.range) or pb.Range())
    return message


def specification_to_proto(spec: Specification) -> pb.Specification:
    return pb.Specification(
        name=spec.name, spec_id=spec.spec_id, version=spec.version, product=spec.product,
        purpose=PURPOSE_TO_PROTO[spec.purpose], market=spec.market, title=spec.title,
        tests=[test_to_proto(test) for test in spec.tests], state=STATE_TO_PROTO[spec.state],
        home_site=spec.home_site, author=spec.author,
        signatures=[signature_to_proto(signature) for signature in spec.signatures],
        create_time=timestamp(spec.create_time), update_time=timestamp(spec.update_time),
        etag=spec.etag,
    )


def specification_from_proto(message: pb.Specification) -> Specification:
    """A stored version (its document), which passed every check when it was written."""
    ignored = Violations()
    return Specification(
        spec_id=message.spec_id, version=message.version, product=message.product,
        purpose=PURPOSE_FROM_PROTO[message.purpose], market=message.market,
        title=message.title, tests=tests_from_proto(list(message.tests), ignored),
        state=STATE_FROM_PROTO[message.state], home_site=message.home_site,
        author=message.author,
        signatures=tuple(signature_from_proto(s) for s in message.signatures),
        create_time=moment(message.create_time), update_time=moment(message.update_time),
        revision=int(message.etag),
    )
