"""Dispositions: protobuf ⇄ domain."""

from __future__ import annotations

from twinline.releasetesting.v1 import disposition_pb2 as pb

from services.common.grpc.translate import (
    enum_map,
    inverse,
    moment,
    signature_from_proto,
    signature_to_proto,
    timestamp,
)
from services.release_testing.dispositions.domain import Decision, Disposition

DECISION_TO_PROTO = enum_map(Decision, pb.DispositionDecision, "DISPOSITION_DECISION")
DECISION_FROM_PROTO = inverse(DECISION_TO_PROTO)


def disposition_to_proto(disposition: Disposition) -> pb.Disposition:
    return pb.Disposition(
        name=disposition.name, batch=f"batches/{disposition.batch_id}",
        decision=DECISION_TO_PROTO[disposition.decision], reason=disposition.reason,
        signature=signature_to_proto(disposition.signature), results=list(disposition.results),
        decide_time=timestamp(disposition.decided_at), home_site=disposition.home_site,
    )


def disposition_from_proto(message: pb.Disposition) -> Disposition:
    return Disposition(
        batch_id=message.batch.removeprefix("batches/"),
        number=int(message.name.rsplit("/", 1)[1]),
        decision=DECISION_FROM_PROTO[message.decision], reason=message.reason,
        signature=signature_from_proto(message.signature), results=tuple(message.results),
        decided_at=moment(message.decide_time), home_site=message.home_site,
    )
