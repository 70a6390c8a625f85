"""Protobuf ⇄ domain for what every context shares: enum maps, timestamps and signatures."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2
from twinline.common.v1 import signature_pb2

from services.common.domain.signatures import SignatureMeaning, SignatureRecord

E = TypeVar("E", bound=Enum)


def enum_map(enum_type: type[E], proto_enum: Any, prefix: str) -> dict[E, Any]:
    """Each member of a domain enum to the proto value ``<prefix>_<NAME>``."""
    return {member: proto_enum.Value(f"{prefix}_{member.name}") for member in enum_type}


def inverse(mapping: dict[E, Any]) -> dict[Any, E]:
    return {value: member for member, value in mapping.items()}


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def moment(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


MEANING_TO_PROTO = enum_map(SignatureMeaning, signature_pb2.SignatureMeaning, "SIGNATURE_MEANING")
MEANING_FROM_PROTO = inverse(MEANING_TO_PROTO)


def signature_to_proto(signature: SignatureRecord) -> signature_pb2.Signature:
    return signature_pb2.Signature(
        signer=signature.signer, printed_name=signature.printed_name,
        meaning=MEANING_TO_PROTO[signature.meaning],
        sign_time=timestamp(signature.sign_time), reason=signature.reason, role=signature.role,
    )


def signature_from_proto(signature: signature_pb2.Signature) -> SignatureRecord:
    return SignatureRecord(
        signer=signature.signer, printed_name=signature.printed_name,
        meaning=MEANING_FROM_PROTO[signature.meaning], sign_time=moment(signature.sign_time),
        reason=signature.reason, role=signature.role,
    )
