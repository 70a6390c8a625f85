"""Driving conjugation runs over gRPC, for the end-to-end tests."""

from __future__ import annotations

import grpc
from twinline.batchrecords.v1 import batch_pb2
from twinline.conjugation.v1 import run_pb2 as pb
from twinline.conjugation.v1 import run_service_pb2 as api
from twinline.conjugation.v1.run_service_pb2_grpc import ConjugationRunServiceStub

from services.client.session import Session
from services.devstack.topology import CONJUGATION
from tests.support import batches
from tests.support.batches import effective_master, q
from tests.support.mbr import request_id
from tests.support.stack import Stack
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


async def batch_in_progress(stack: Stack) -> batch_pb2.Batch:
    """A Syracuse batch on the conjugation recipe, S1 recorded: in progress."""
    master = await effective_master(stack)
    mes = await stack.login(SITE, "mes")
    operator = await stack.login(SITE, "operator")
    batch = await batches.create_batch(mes, master)
    return (await batches.record(operator, batch, batches.s1())).batch


async def create_run(stack: Stack, batch: batch_pb2.Batch) -> pb.Run:
    """A run for ``batch``, retried until the batch's events reached the projection."""
    engineer = await stack.login(SITE, "author", CONJUGATION.name)

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
