"""Conjugation runs end to end at one site: real batch_records and conjugation processes, NATS.

The conjugation service learns of batches from their events (its projection), never by a call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest
from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.conjugation.v1 import readings_pb2
from twinline.conjugation.v1 import run_pb2 as pb
from twinline.conjugation.v1 import run_service_pb2 as api

from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS, CONJUGATION
from tests.support import batches, runs
from tests.support.batches import q
from tests.support.mbr import request_id
from tests.support.runs import SITE, stub
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

stack = stack_fixture(services=[BATCH_RECORDS.name, CONJUGATION.name])


async def _refusal(session: object, request: api.CreateRunRequest) -> dict[str, object]:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub(session).CreateRun(request, metadata=session.metadata)  # type: ignore[arg-type, attr-defined]
    return {"code": refused.value.code(), **details_of(refused.value)}


async def test_a_run_needs_a_known_batch_in_progress_and_good_inputs(stack: Stack) -> None:
    engineer = await stack.login(SITE, "author", CONJUGATION.name)
    unknown = await _refusal(engineer, runs.create_request("batches/SYR-B-2026-99999"))
    assert (unknown["code"], unknown["reason"]) == (
        grpc.StatusCode.FAILED_PRECONDITION, "BATCH_UNKNOWN"
    )

    master = await batches.effective_master(stack)
    mes = await stack.login(SITE, "mes")
    created = await batches.create_batch(mes, master)

    async def refused_as_not_in_progress() -> bool:
        answer = await _refusal(engineer, runs.create_request(created.name))
        return answer["reason"] == "BATCH_NOT_IN_PROGRESS"

    # The projection learns of the batch from its "created" event: not in progress yet.
    await wait_until(refused_as_not_in_progress, runs.PROJECTION_DEADLINE_S, interval=0.2)

    operator = await stack.login(SITE, "operator")
    await batches.record(operator, created, batches.s1())
    bad = await _refusal(engineer, runs.create_request(
        created.name, antibody_volume=q("0", "mL"), antibody_molecular_weight=q("NaN", "g/mol"),
        reducing_agent_stock=q("-10", "mmol/L"), drug_linker_stock=q("10", "mg"),
        quench_stock=q("100", ""), drug_linker_equivalents="Infinity",
    ))
    assert bad["code"] is grpc.StatusCode.INVALID_ARGUMENT
    assert set(bad["fields"]) >= {  # type: ignore[arg-type]
        "inputs.antibody_volume.value", "inputs.antibody_molecular_weight.value",
        "inputs.reducing_agent_stock.value", "inputs.drug_linker_stock.unit",
        "inputs.quench_stock.unit", "inputs.drug_linker_equivalents",
    }, bad["fields"]
    listed = await stub(engineer).ListRuns(api.ListRunsRequest(), metadata=engineer.metadata)
    assert list(listed.runs) == []  # nothing written

    run = await runs.create_run(stack, created)
    assert run.run_id.startswith("SYR-CR-") and run.batch == created.name
    assert run.phase == pb.PHASE_SETUP and run.product == created.control_recipe.product
    figures = {calculation.name: calculation.result for calculation in run.calculations}
    assert (figures["reducer volume"].value, figures["reducer volume"].unit) == (
        "14.667", "mL"
    )
    assert figures["drug-linker volume"].value == "53.333"
    assert figures["quench volume"].value == "16.000"


async def _advance(session: object, request: object, method: str) -> pb.Run:
    answer = await getattr(stub(session), method)(request, metadata=session.metadata)  # type: ignore[arg-type, attr-defined]
    return answer.run  # type: ignore[no-any-return]


async def test_phases_run_in_order_with_charges_parameters_and_results(stack: Stack) -> None:
    batch = await runs.batch_in_progress(stack)
    run = await runs.create_run(stack, batch)
    operator = await stack.login(SITE, "operator", CONJUGATION.name)
    analyst = await stack.login(SITE, "analyst", CONJUGATION.name)

    def start(phase: int) -> api.StartPhaseRequest:
        return api.StartPhaseRequest(request_id=request_id(), name=run.name, etag=run.etag,
                                     phase=phase)

    with pytest.raises(grpc.aio.AioRpcError) as skipped:
        await _advance(operator, start(pb.PHASE_CONJUGATION), "StartPhase")
    assert details_of(skipped.value)["reason"] == "PHASE_OUT_OF_ORDER"

    run = await _advance(operator, start(pb.PHASE_REDUCTION), "StartPhase")
    with pytest.raises(grpc.aio.AioRpcError) as early:
        await _advance(operator, api.EndPhaseRequest(
            request_id=request_id(), name=run.name, etag=run.etag, phase=pb.PHASE_REDUCTION,
        ), "EndPhase")
    assert details_of(early.value)["reason"] == "CHARGE_MISSING"
    run = await _advance(operator, api.RecordChargeRequest(
        request_id=request_id(), name=run.name, etag=run.etag,
        kind=pb.CHARGE_KIND_REDUCING_AGENT, actual=q("14.70", "mL"), lot_id="L-TCEP-0113",
    ), "RecordCharge")
    assert run.charges[0].within_tolerance and run.charges[0].deviation_percent == "0.23"

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await _advance(operator, api.EndPhaseRequest(
            request_id=request_id(), name=run.name, etag=run.etag, phase=pb.PHASE_REDUCTION,
            parameters=[api.ParameterInput(name="temperature", value=q("25", "Cel"))],
        ), "EndPhase")
    assert details_of(missing.value)["fields"] == ["parameters[TCEP]"]
    run = await _advance(operator, api.EndPhaseRequest(
        request_id=request_id(), name=run.name, etag=run.etag, phase=pb.PHASE_REDUCTION,
        parameters=[
            api.ParameterInput(name="temperature", value=q("31.5", "Cel")),
            api.ParameterInput(name="TCEP", value=q("2.2", "mol/mol")),
        ],
    ), "EndPhase")
    ended = run.phases[0]
    judged = {parameter.name: parameter.within_limits for parameter in ended.parameters}
    assert judged == {"temperature": False, "TCEP": True}
    assert ended.end_time.seconds > 0 and ended.ended_by == "syracuse.operator"

    run = await _advance(operator, start(pb.PHASE_CONJUGATION), "StartPhase")
    run = await _advance(operator, api.RecordChargeRequest(
        request_id=request_id(), name=run.name, etag=run.etag,
        kind=pb.CHARGE_KIND_DRUG_LINKER, actual=q("0.0600", "L"), lot_id="L-DL-0042",
    ), "RecordCharge")
    assert not run.charges[1].within_tolerance and run.charges[1].deviation_percent == "12.50"
    for phase, kind, volume in (
        (pb.PHASE_QUENCH, pb.CHARGE_KIND_QUENCH, "16.0"), (pb.PHASE_PURIFICATION, None, None),
    ):
        run = await _advance(operator, api.EndPhaseRequest(
            request_id=request_id(), name=run.name, etag=run.etag, phase=phase - 1,
        ), "EndPhase")
        run = await _advance(operator, start(phase), "StartPhase")
        if kind is not None:
            run = await _advance(operator, api.RecordChargeRequest(
                request_id=request_id(), name=run.name, etag=run.etag, kind=kind,
                actual=q(volume, "mL"), lot_id="L-NAC-0002",
            ), "RecordCharge")

    def results(distribution: list[str], dar: str) -> api.RecordResultsRequest:
        return api.RecordResultsRequest(
            request_id=request_id(), name=run.name, etag=run.etag,
            dar_distribution=distribution,
            values=[
                api.ResultInput(attribute=pb.ATTRIBUTE_AVERAGE_DAR, value=q(dar, "1")),
                api.ResultInput(attribute=pb.ATTRIBUTE_FREE_DRUG_LINKER, value=q("0.4", "%")),
                api.ResultInput(attribute=pb.ATTRIBUTE_MONOMER, value=q("93.1", "%")),
                api.ResultInput(attribute=pb.ATTRIBUTE_HMW, value=q("1.2", "%")),
                api.ResultInput(attribute=pb.ATTRIBUTE_CONCENTRATION, value=q("9.8", "mg/mL")),
                api.ResultInput(attribute=pb.ATTRIBUTE_ENDOTOXIN, value=q("0.05", "[EU]/mL")),
            ],
            protein_out=q("9.1", "g"),
        )

    # D0 .1, D2 .25, D4 .4, D6 .2, D8 .05: Σ i·Di = 3.7, not the reported 4.2.
    distribution = ["0.10", "0", "0.25", "0", "0.40", "0", "0.20", "0", "0.05"]
    with pytest.raises(grpc.aio.AioRpcError) as inconsistent:
        await _advance(analyst, results(distribution, "4.2"), "RecordResults")
    assert details_of(inconsistent.value)["fields"] == [
        "dar_distribution", "values[average_dar].value",
    ]
    run = await _advance(analyst, results(distribution, "3.7"), "RecordResults")
    values = {value.attribute: (value.value.value, value.within_range)
              for value in run.results.values}
    assert values[pb.ATTRIBUTE_YIELD] == ("91.0", True)  # 9.1 g out of 10 g in
    assert values[pb.ATTRIBUTE_MONOMER] == ("93.1", False)
    assert values[pb.ATTRIBUTE_AVERAGE_DAR] == ("3.7", True)

    run = await _advance(operator, api.EndPhaseRequest(
        request_id=request_id(), name=run.name, etag=run.etag, phase=pb.PHASE_PURIFICATION,
        parameters=[api.ParameterInput(name="diavolumes", value=q("10", "1"))],
    ), "EndPhase")
    assert run.phase == pb.PHASE_COMPLETE
    read = await stub(operator).GetRun(api.GetRunRequest(name=run.name),
                                       metadata=operator.metadata)
    assert read.run == run
    with pytest.raises(grpc.aio.AioRpcError) as after_end:
        await _advance(operator, start(pb.PHASE_REDUCTION), "StartPhase")
    assert details_of(after_end.value)["reason"] == "PHASE_OUT_OF_ORDER"

    qa = await stack.login(SITE, "qa", CONJUGATION.name)

    async def trend() -> api.GetTrendResponse | None:
        answer = await stub(qa).GetTrend(api.GetTrendRequest(
            product=run.product, attribute=pb.ATTRIBUTE_YIELD
        ), metadata=qa.metadata)
        return answer if answer.points else None

    charted = await wait_until(trend, runs.PROJECTION_DEADLINE_S, interval=0.2)
    assert [(point.run, point.site, point.value) for point in charted.points] == [
        (run.name, SITE, "91.0")
    ]

    # Each issue raised one exception on the batch, by an event that batch_records consumed.
    reviewer = await stack.login(SITE, "reviewer")

    async def process_exceptions() -> list[batch_pb2.BatchException] | None:
        read = await batches.stub(reviewer).GetBatch(
            batch_api.GetBatchRequest(name=batch.name), metadata=reviewer.metadata
        )
        found = [e for e in read.batch.exceptions if e.kind == batch_pb2.EXCEPTION_KIND_PROCESS]
        return found if len(found) >= 3 and read.batch.state == batch_pb2.BATCH_STATE_ON_HOLD \
            else None

    raised = await wait_until(process_exceptions, runs.PROJECTION_DEADLINE_S, interval=0.2)
    assert {(e.source, e.severity) for e in raised} == {(run.name, batch_pb2.SEVERITY_MAJOR)}
    descriptions = sorted(e.description for e in raised)
    assert len(descriptions) == 3, descriptions
    assert descriptions[0].startswith("drug linker charge 0.0600 L is 12.50 % from")
    assert descriptions[1].startswith("monomer 93.1 % is outside its acceptance range")
    assert descriptions[2].startswith("reduction temperature 31.5 Cel is outside its limits")


async def test_the_trend_of_an_attribute_spans_the_runs_of_both_sites(stack: Stack) -> None:
    """Each site's results reach the other's conjugation service through the sourced stream:
    Songdo's chart holds Syracuse's run, and Syracuse's holds Songdo's."""
    recorded = {}
    for site, protein_out in (("syracuse", "9.1"), ("songdo", "8.6")):
        batch = await runs.batch_in_progress(stack, site)
        run = await runs.through_purification(stack, await runs.create_run(stack, batch, site),
                                              site)
        recorded[site] = await runs.record_results(stack, run, protein_out, site)

    for site in ("syracuse", "songdo"):
        qa = await stack.login(site, "qa", CONJUGATION.name)

        async def both(qa: object = qa) -> api.GetTrendResponse | None:
            answer = await stub(qa).GetTrend(api.GetTrendRequest(  # type: ignore[arg-type]
                product=recorded["syracuse"].product, attribute=pb.ATTRIBUTE_YIELD,
                rule_set=api.RULE_SET_NELSON, baseline_points=2,
            ), metadata=qa.metadata)  # type: ignore[attr-defined]
            return answer if len(answer.points) == 2 else None

        chart = await wait_until(both, runs.PROJECTION_DEADLINE_S, interval=0.2,
                                 message=f"{site} never charted both sites' runs")
        assert sorted((point.site, point.run, point.value) for point in chart.points) == [
            ("songdo", recorded["songdo"].name, "86.0"),
            ("syracuse", recorded["syracuse"].name, "91.0"),
        ]
        # Centre 88.5; sigma = MR-bar / 1.128 = 5.0 / 1.128.
        assert Decimal(chart.center) == Decimal("88.5")
        assert round(Decimal(chart.sigma), 4) == Decimal("4.4326")
        assert [list(point.rules) for point in chart.points] == [[], []]


async def test_a_value_held_out_of_limits_past_its_dwell_is_one_excursion_and_one_exception(
    stack: Stack,
) -> None:
    batch = await runs.batch_in_progress(stack)
    run = await runs.create_run(stack, batch)
    await runs.declare_tag(stack, run, "R201.TT01", low=20, high=30, dwell_s=60)
    start = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp()) * 1_000_000
    # Every 10 s: in limits; a 20 s blip above (shorter than the dwell); in; 80 s above
    # (peak 32.5); back in.
    values = [25, 25, 31, 31, 25, 25, 31, 31, 31, 31, 32.5, 31, 31, 31, 25, 25]
    points = [(start + index * 10_000_000, float(value)) for index, value in enumerate(values)]
    first = await runs.stream_points(stack, run, "R201.TT01", points, per_message=3)
    assert (first.stored, first.duplicates) == (len(points), 0)
    assert (first.excursions_started, first.excursions_ended) == (1, 1)
    again = await runs.stream_points(stack, run, "R201.TT01", points)  # a resend
    assert (again.stored, again.duplicates, again.excursions_started) == (0, len(points), 0)

    qa = await stack.login(SITE, "qa", CONJUGATION.name)
    listed = await runs.readings_stub(qa).ListExcursions(
        readings_pb2.ListExcursionsRequest(run=run.name), metadata=qa.metadata
    )
    assert len(listed.excursions) == 1
    excursion = listed.excursions[0]
    assert excursion.extreme_value == 32.5 and excursion.duration.seconds == 80
    assert excursion.start_time.seconds == (start + 60_000_000) // 1_000_000

    reviewer = await stack.login(SITE, "reviewer")

    async def one_exception() -> list[batch_pb2.BatchException] | None:
        read = await batches.stub(reviewer).GetBatch(
            batch_api.GetBatchRequest(name=batch.name), metadata=reviewer.metadata
        )
        found = [e for e in read.batch.exceptions if e.kind == batch_pb2.EXCEPTION_KIND_PROCESS]
        return found or None

    raised = await wait_until(one_exception, runs.PROJECTION_DEADLINE_S, interval=0.2)
    # Nothing else is on its way: the resend and the blip raised no event to wait for.
    assert len(raised) == 1 and raised[0].source == run.name
    assert "R201.TT01" in raised[0].description
