"""Investigations: protobuf ⇄ domain."""

from __future__ import annotations

from twinline.releasetesting.v1 import investigation_pb2 as pb

from services.common.grpc.translate import (
    enum_map,
    inverse,
    moment,
    signature_from_proto,
    signature_to_proto,
    timestamp,
)
from services.release_testing.investigations.domain import (
    Cause,
    CauseCategory,
    Investigation,
    InvestigationState,
    PhaseOne,
    PhaseTwo,
    PlanKind,
)

STATE_TO_PROTO = enum_map(InvestigationState, pb.InvestigationState, "INVESTIGATION_STATE")
STATE_FROM_PROTO = inverse(STATE_TO_PROTO)
CATEGORY_TO_PROTO = enum_map(CauseCategory, pb.CauseCategory, "CAUSE_CATEGORY")
CATEGORY_FROM_PROTO = inverse(CATEGORY_TO_PROTO)
PLAN_TO_PROTO = enum_map(PlanKind, pb.PlanKind, "PLAN_KIND")
PLAN_FROM_PROTO = inverse(PLAN_TO_PROTO)


def causes_from_proto(causes: list[pb.Cause]) -> tuple[Cause, ...]:
    """Each cause as given; an unknown category is None, which the domain refuses by name."""
    return tuple(Cause(CATEGORY_FROM_PROTO.get(cause.category), cause.description)
                 for cause in causes)


def _causes_to_proto(causes: tuple[Cause, ...]) -> list[pb.Cause]:
    return [pb.Cause(category=CATEGORY_TO_PROTO[cause.category] if cause.category
                     else pb.CAUSE_CATEGORY_UNSPECIFIED,
                     description=cause.description) for cause in causes]


def investigation_to_proto(investigation: Investigation) -> pb.Investigation:
    message = pb.Investigation(
        name=investigation.name, sample=f"samples/{investigation.sample_id}",
        result=investigation.result_name, batch=f"batches/{investigation.batch_id}",
        state=STATE_TO_PROTO[investigation.state],
        follow_up_results=list(investigation.follow_up_results),
        home_site=investigation.home_site,
        signatures=[signature_to_proto(s) for s in investigation.signatures],
        create_time=timestamp(investigation.created_at),
        update_time=timestamp(investigation.updated_at), etag=investigation.etag,
    )
    one, two = investigation.phase_one, investigation.phase_two
    if one is not None:
        message.phase_one.CopyFrom(pb.PhaseOne(
            causes=_causes_to_proto(one.causes),
            assignable_cause_found=one.assignable_cause_found, summary=one.summary,
            conclude_time=timestamp(one.concluded_at)))
    if two is not None:
        message.phase_two.CopyFrom(pb.PhaseTwo(
            manufacturing_review=two.manufacturing_review,
            plan=PLAN_TO_PROTO[two.plan] if two.plan else pb.PLAN_KIND_UNSPECIFIED,
            replicates=two.replicates or 0,
            oos_confirmed=bool(two.oos_confirmed), causes=_causes_to_proto(two.causes),
            conclusion=two.conclusion or "", conclude_time=timestamp(two.concluded_at)))
    return message


def investigation_from_proto(message: pb.Investigation) -> Investigation:
    phase_one = phase_two = None
    if message.HasField("phase_one"):
        one = message.phase_one
        phase_one = PhaseOne(causes_from_proto(list(one.causes)), one.assignable_cause_found,
                             one.summary, moment(one.conclude_time))
    if message.HasField("phase_two"):
        two = message.phase_two
        concluded = two.HasField("conclude_time")
        phase_two = PhaseTwo(
            manufacturing_review=two.manufacturing_review, plan=PLAN_FROM_PROTO.get(two.plan),
            replicates=two.replicates or None,
            oos_confirmed=two.oos_confirmed if concluded else None,
            causes=causes_from_proto(list(two.causes)),
            conclusion=two.conclusion if concluded else None,
            concluded_at=moment(two.conclude_time) if concluded else None,
        )
    return Investigation(
        investigation_id=message.name.removeprefix("investigations/"),
        sample_id=message.sample.removeprefix("samples/"), result_name=message.result,
        batch_id=message.batch.removeprefix("batches/"), home_site=message.home_site,
        state=STATE_FROM_PROTO[message.state], phase_one=phase_one, phase_two=phase_two,
        follow_up_results=tuple(message.follow_up_results),
        signatures=tuple(signature_from_proto(s) for s in message.signatures),
        created_at=moment(message.create_time), updated_at=moment(message.update_time),
        revision=int(message.etag),
    )
