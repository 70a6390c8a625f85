"""Samples: protobuf ⇄ domain."""

from __future__ import annotations

from decimal import Decimal

from twinline.releasetesting.v1 import sample_pb2 as pb

from services.common.domain.errors import Violations
from services.common.grpc.translate import (
    enum_map,
    inverse,
    moment,
    signature_from_proto,
    signature_to_proto,
    timestamp,
)
from services.release_testing.samples.domain import (
    AppliedTest,
    Assignment,
    Result,
    ResultState,
    Sample,
    SampleVerdict,
    Verdicts,
    verdicts,
)
from services.release_testing.samples.names import result_name
from services.release_testing.specifications.criteria import Flag, Judgement, Verdict
from services.release_testing.specifications.translate import (
    PURPOSE_FROM_PROTO,
    PURPOSE_TO_PROTO,
    test_from_proto,
    test_to_proto,
)

RESULT_STATE_TO_PROTO = enum_map(ResultState, pb.ResultState, "RESULT_STATE")
RESULT_STATE_FROM_PROTO = inverse(RESULT_STATE_TO_PROTO)
VERDICT_TO_PROTO = enum_map(Verdict, pb.Verdict, "VERDICT")
VERDICT_FROM_PROTO = inverse(VERDICT_TO_PROTO)
SAMPLE_VERDICT_TO_PROTO = enum_map(SampleVerdict, pb.SampleVerdict, "SAMPLE_VERDICT")
FLAG_TO_PROTO = enum_map(Flag, pb.Flag, "FLAG")
FLAG_FROM_PROTO = inverse(FLAG_TO_PROTO)


def _verdicts_to_proto(verdicts: Verdicts) -> pb.Judgement:
    judgement = verdicts.judgement
    return pb.Judgement(
        specification=verdicts.specification, test_id=verdicts.test_id,
        reportable=judgement.reportable_text, verdict=VERDICT_TO_PROTO[judgement.verdict],
        flags=[FLAG_TO_PROTO[flag] for flag in judgement.flags],
        trend_rules=list(verdicts.trend_rules),
    )


def _verdicts_from_proto(message: pb.Judgement) -> Verdicts:
    return Verdicts(
        specification=message.specification, test_id=message.test_id,
        judgement=Judgement(
            Decimal(message.reportable) if message.reportable else None,
            VERDICT_FROM_PROTO[message.verdict],
            tuple(FLAG_FROM_PROTO[flag] for flag in message.flags),
        ),
        trend_rules=tuple(message.trend_rules),
    )


def result_to_proto(sample_id: str, result: Result) -> pb.Result:
    return pb.Result(
        name=result_name(sample_id, result.number), assignment_id=result.assignment_id,
        replicates=list(result.replicates), outcome=result.outcome, below_loq=result.below_loq,
        unit=result.unit, instrument_id=result.instrument_id,
        state=RESULT_STATE_TO_PROTO[result.state],
        judgements=[_verdicts_to_proto(v) for v in result.verdicts],
        retest_of="" if result.retest_of is None else result_name(sample_id, result.retest_of),
        invalidation_reason=result.invalidation_reason,
        signatures=[signature_to_proto(s) for s in result.signatures], comment=result.comment,
    )


def _result_from_proto(message: pb.Result) -> Result:
    return Result(
        number=int(message.name.rsplit("/", 1)[1]), assignment_id=message.assignment_id,
        replicates=tuple(message.replicates), outcome=message.outcome,
        below_loq=message.below_loq, unit=message.unit, instrument_id=message.instrument_id,
        state=RESULT_STATE_FROM_PROTO[message.state],
        verdicts=tuple(_verdicts_from_proto(v) for v in message.judgements),
        entered_by=message.signatures[0].signer if message.signatures else "",
        signatures=tuple(signature_from_proto(s) for s in message.signatures),
        retest_of=int(message.retest_of.rsplit("/", 1)[1]) if message.retest_of else None,
        invalidation_reason=message.invalidation_reason, comment=message.comment,
    )


def sample_to_proto(sample: Sample) -> pb.Sample:
    assignments = []
    for assignment in sample.assignments:
        assignments.append(pb.Assignment(
            assignment_id=assignment.assignment_id, attribute=assignment.attribute,
            method_id=assignment.method_id, unit=assignment.unit,
            applied=[pb.AppliedTest(
                specification=test.specification, test_id=test.test_id,
                criterion_text=test.criterion_text, purpose=PURPOSE_TO_PROTO[test.purpose],
                test=test_to_proto(test.test),
            ) for test in assignment.applied],
            results=[result_to_proto(sample.sample_id, r) for r in sample.results
                     if r.assignment_id == assignment.assignment_id],
        ))
    return pb.Sample(
        name=sample.name, batch=f"batches/{sample.batch_id}", product=sample.product,
        home_site=sample.home_site, description=sample.description, assignments=assignments,
        complete=sample.complete, create_time=timestamp(sample.create_time),
        update_time=timestamp(sample.update_time), etag=sample.etag,
        resample_of=sample.resample_of,
        verdicts=[pb.SpecificationVerdict(
            specification=name, purpose=PURPOSE_TO_PROTO[purpose],
            verdict=SAMPLE_VERDICT_TO_PROTO[verdict],
        ) for name, purpose, verdict in verdicts(sample)],
    )


def sample_from_proto(message: pb.Sample, created_by: str = "") -> Sample:
    """A stored sample (its document), which passed every check when it was written."""
    ignored = Violations()
    results = sorted(
        (_result_from_proto(r) for a in message.assignments for r in a.results),
        key=lambda result: result.number,
    )
    return Sample(
        sample_id=message.name.removeprefix("samples/"),
        batch_id=message.batch.removeprefix("batches/"), product=message.product,
        home_site=message.home_site, description=message.description,
        assignments=tuple(
            Assignment(a.assignment_id, a.attribute, a.method_id, a.unit, tuple(
                AppliedTest(t.specification, PURPOSE_FROM_PROTO[t.purpose],
                            test_from_proto(t.test, "", ignored))
                for t in a.applied))
            for a in message.assignments
        ),
        results=tuple(results), created_by=created_by,
        create_time=moment(message.create_time), update_time=moment(message.update_time),
        resample_of=message.resample_of, revision=int(message.etag),
    )
