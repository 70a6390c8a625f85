"""Driving conjugation runs over gRPC, for the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from twinline.batchrecords.v1 import batch_pb2
from twinline.conjugation.v1 import readings_pb2
from twinline.conjugation.v1 import run_pb2 as pb
from twinline.conjugation.v1 import run_service_pb2 as api
from twinline.conjugation.v1.readings_pb2_grpc import ProcessReadingsServiceStub
from twinline.conjugation.v1.run_service_pb2_grpc import ConjugationRunServiceStub

from services.client.session import Session
from services.devstack.topology import CONJUGATION
from tests.support import batches
from tests.support.batches import effective_master, q
from tests.support.mbr import request_id
from tests.support.stack import Logins
from tests.support.waiting import wait_until

SITE = "syracuse"
# Waiting for a batch event to reach the conjugation service's projection, on a loaded machine.
PROJECTION_DEADLINE_S = 30.0


def stub(session: Session) -> ConjugationRunServiceStub:
    return session.stub(ConjugationRunServiceStub)


def inputs(**changes: object) -> pb.Inputs:
    """10 g of antibody (10 mg/mL x 1000 mL at 150,000 g/mol), 2.2 eq TCEP from 10 mM, 8 eq
    drug-linker (1,300 g/mol) from 10 mM in DMSO (at most 10 % v/v), 3 eq NAC over it from
    100 mM. Reducer 14.667 mL, drug-linker 53.333 mL, quench 16.000 mL."""
    message = pb.Inputs(
        antibody_lot="L-MAB-0007", antibody_concentration=q("10", "mg/mL"),
        antibody_volume=q("1000", "mL"), antibody_molecular_weight=q("150000", "g/mol"),
        reducing_agent="TCEP", reducing_agent_lot="L-TCEP-0113",
        reducing_agent_stock=q("10", "mmol/L"), reducing_agent_equivalents="2.2",
        drug_linker="MC-vc-PAB-MMAE", drug_linker_lot="L-DL-0042",
        drug_linker_molecular_weight=q("1300", "g/mol"), drug_linker_stock=q("10", "mmol/L"),
        co_solvent=pb.CO_SOLVENT_DMSO, drug_linker_equivalents="8",
        max_co_solvent_percent="10", quench_agent="N-acetyl-cysteine", quench_lot="L-NAC-0002",
        quench_stock=q("100", "mmol/L"), quench_equivalents="3",
    )
    for name, value in changes.items():
        field = getattr(message, name)
        if hasattr(field, "CopyFrom"):
            field.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def acceptance() -> list[pb.AcceptanceRange]:
    return [
        pb.AcceptanceRange(attribute=pb.ATTRIBUTE_AVERAGE_DAR, low="3.5", high="4.5"),
        pb.AcceptanceRange(attribute=pb.ATTRIBUTE_MONOMER, low="95"),
        pb.AcceptanceRange(attribute=pb.ATTRIBUTE_FREE_DRUG_LINKER, high="1.0"),
        pb.AcceptanceRange(attribute=pb.ATTRIBUTE_YIELD, low="80"),
    ]


def create_request(batch_name: str, **input_changes: object) -> api.CreateRunRequest:
    return api.CreateRunRequest(
        request_id=request_id(), batch=batch_name, inputs=inputs(**input_changes),
        phase_steps=[pb.PhaseStep(phase=pb.PHASE_REDUCTION, step_id="S1")],
        acceptance=acceptance(),
    )


async def batch_in_progress(stack: Logins, site: str = SITE) -> batch_pb2.Batch:
    """A batch of ``site`` on the conjugation recipe, S1 recorded: in progress."""
    master = await effective_master(stack, site)
    mes = await stack.login(site, "mes")
    operator = await stack.login(site, "operator")
    batch = await batches.create_batch(mes, master)
    return (await batches.record(operator, batch, batches.s1())).batch


async def create_run(stack: Logins, batch: batch_pb2.Batch, site: str = SITE) -> pb.Run:
    """A run for ``batch`` (of ``site``), retried until the batch's events reached the
    projection."""
    engineer = await stack.login(site, "author", CONJUGATION.name)

    async def created() -> pb.Run | None:
        try:
            answer = await stub(engineer).CreateRun(
                create_request(batch.name), metadata=engineer.metadata
            )
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.FAILED_PRECONDITION:
                return None  # not projected yet (or not in progress yet)
            raise
        return answer.run

    return await wait_until(created, PROJECTION_DEADLINE_S, interval=0.2,
                            message="the batch never became known to the conjugation service")


async def _step(session: Session, method: str, request: object) -> pb.Run:
    answer = await getattr(stub(session), method)(request, metadata=session.metadata)
    return answer.run  # type: ignore[no-any-return]


async def through_purification(stack: Logins, run: pb.Run, site: str = SITE) -> pb.Run:
    """``run`` taken through reduction, conjugation and quench, each charge as computed and the
    reduction's parameters in their limits, to purification running."""
    operator = await stack.login(site, "operator", CONJUGATION.name)
    figures = {calculation.name: calculation.result for calculation in run.calculations}
    charges = (
        (pb.PHASE_REDUCTION, pb.CHARGE_KIND_REDUCING_AGENT, "reducer volume"),
        (pb.PHASE_CONJUGATION, pb.CHARGE_KIND_DRUG_LINKER, "drug-linker volume"),
        (pb.PHASE_QUENCH, pb.CHARGE_KIND_QUENCH, "quench volume"),
    )
    for phase, kind, figure in charges:
        run = await _step(operator, "StartPhase", api.StartPhaseRequest(
            request_id=request_id(), name=run.name, etag=run.etag, phase=phase))
        run = await _step(operator, "RecordCharge", api.RecordChargeRequest(
            request_id=request_id(), name=run.name, etag=run.etag, kind=kind,
            actual=figures[figure], lot_id="L-0001"))
        parameters = [
            api.ParameterInput(name="temperature", value=q("25", "Cel")),
            api.ParameterInput(name="TCEP", value=q("2.2", "mol/mol")),
        ] if phase == pb.PHASE_REDUCTION else []
        run = await _step(operator, "EndPhase", api.EndPhaseRequest(
            request_id=request_id(), name=run.name, etag=run.etag, phase=phase,
            parameters=parameters))
    return await _step(operator, "StartPhase", api.StartPhaseRequest(
        request_id=request_id(), name=run.name, etag=run.etag, phase=pb.PHASE_PURIFICATION))


def results_request(run: pb.Run, protein_out: str, monomer: str = "97.5",
                    average_dar: str = "4.0") -> api.RecordResultsRequest:
    """D2 .2, D4 .6, D6 .2 (weighted mean 4.0), each other attribute in range."""
    return api.RecordResultsRequest(
        request_id=request_id(), name=run.name, etag=run.etag,
        dar_distribution=["0", "0", "0.2", "0", "0.6", "0", "0.2", "0", "0"],
        values=[
            api.ResultInput(attribute=pb.ATTRIBUTE_AVERAGE_DAR, value=q(average_dar, "1")),
            api.ResultInput(attribute=pb.ATTRIBUTE_FREE_DRUG_LINKER, value=q("0.4", "%")),
            api.ResultInput(attribute=pb.ATTRIBUTE_MONOMER, value=q(monomer, "%")),
            api.ResultInput(attribute=pb.ATTRIBUTE_HMW, value=q("1.2", "%")),
            api.ResultInput(attribute=pb.ATTRIBUTE_CONCENTRATION, value=q("9.8", "mg/mL")),
            api.ResultInput(attribute=pb.ATTRIBUTE_ENDOTOXIN, value=q("0.05", "[EU]/mL")),
        ],
        protein_out=q(protein_out, "g"),
    )


async def record_results(stack: Logins, run: pb.Run, protein_out: str, site: str = SITE) -> pb.Run:
    analyst = await stack.login(site, "analyst", CONJUGATION.name)
    return await _step(analyst, "RecordResults", results_request(run, protein_out))


def readings_stub(session: Session) -> ProcessReadingsServiceStub:
    return session.stub(ProcessReadingsServiceStub)


async def declare_tag(stack: Logins, run: pb.Run, tag: str, *, unit: str = "Cel",
                      low: float | None = None, high: float | None = None,
                      dwell_s: int = 0, site: str = SITE) -> readings_pb2.Tag:
    engineer = await stack.login(site, "author", CONJUGATION.name)
    declared = readings_pb2.Tag(run=run.name, tag=tag, unit=unit, description=f"{tag} (test)")
    if low is not None:
        declared.low_limit = low
    if high is not None:
        declared.high_limit = high
    declared.dwell.seconds = dwell_s
    answer = await readings_stub(engineer).DeclareTag(
        readings_pb2.DeclareTagRequest(request_id=request_id(), tag=declared),
        metadata=engineer.metadata,
    )
    return answer.tag


async def stream_points(
    stack: Logins, run: pb.Run, tag: str, points: list[tuple[int, float]], *,
    unit: str = "Cel", site: str = SITE, per_message: int = 100,
) -> readings_pb2.StreamReadingsResponse:
    """``points`` (time in µs, value) of one tag, in one client-streaming call."""
    mes = await stack.login(site, "mes", CONJUGATION.name)

    async def messages() -> AsyncIterator[readings_pb2.StreamReadingsRequest]:
        for start in range(0, len(points), per_message):
            yield readings_pb2.StreamReadingsRequest(run=run.name, points=[
                readings_pb2.ReadingPoint(tag=tag, time_us=time_us, value=value, unit=unit,
                                          quality=readings_pb2.QUALITY_GOOD)
                for time_us, value in points[start:start + per_message]
            ])

    answer: readings_pb2.StreamReadingsResponse = await readings_stub(mes).StreamReadings(
        messages(), metadata=mes.metadata
    )
    return answer
