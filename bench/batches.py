"""Prepares the step-record figure: a one-step master record taken to effective at the origin site
and, from it, batches created by the site's MES account, enough for every measured round (a step
is recorded once per batch), their names written one per line, a file per round.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from twinline.batchrecords.v1 import batch_pb2 as batch_pb
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as mbr_api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)

from services.client.session import Session
from services.devstack.demo_users import demo_password
from services.devstack.recipes import one_step_recipe
from tests.support.batches import create_batch, q, record
from tests.support.mbr import request_id, take_draft_to_effective

STEP_ID = "S1"
# CreateBatch is timed for this long first; the number of batches follows from its rate.
TRIAL_S = 2.0
# Batches per round: rate * (warm-up + measured seconds) * this, plus one per caller in flight.
HEADROOM = 1.5


class PreparationError(RuntimeError):
    pass


def step_record(site: str = "syracuse") -> batch_api.StepRecordInput:
    """What the load client records on each batch: a value inside the limits, so no exception.
    The MES records it for the site's demo operator (an integration names who did the step)."""
    return batch_api.StepRecordInput(
        step_id=STEP_ID, performed_by=f"{site}.operator",
        parameter_values=[batch_api.ParameterValueInput(name="temperature", value=q("25", "Cel"))],
    )


async def effective_master(address: str, site: str) -> str:
    """The name (with version) of a new one-step master record effective at ``site``."""
    sessions = [
        await Session.login(address, f"{site}.{job}", demo_password(job))
        for job in ("author", "reviewer", "qa")
    ]
    author, reviewer, qa = sessions
    try:
        draft = await author.stub(MasterBatchRecordServiceStub).CreateMasterBatchRecord(
            mbr_api.CreateMasterBatchRecordRequest(
                request_id=request_id(), master_batch_record=one_step_recipe(STEP_ID)
            ),
            metadata=author.metadata,
        )
        record = await take_draft_to_effective(draft.master_batch_record, author, reviewer, qa)
    except grpc.aio.AioRpcError as exc:
        raise PreparationError(f"master record not made effective: {_status(exc)}") from None
    finally:
        for session in sessions:
            await session.close()
    return str(record.name)


@dataclass(frozen=True)
class Prepared:
    names: list[str]
    trial_requests_per_s: float
    wanted: int
    seconds: float


async def create_batches(
    address: str, site: str, master: str, *, rounds: int, seconds_per_round: float,
    concurrency: int, max_batches: int, time_limit: float,
    on_progress: Callable[[int, int | None], None],
) -> Prepared:
    """Batches for ``rounds`` windows of ``seconds_per_round``, sized by a trial of CreateBatch
    (whose batches count too); at most ``max_batches``, and no call started after ``time_limit``.
    The last one created has its step recorded here and is not among the names returned.
    """
    session = await Session.login(address, f"{site}.mes", demo_password("mes"))
    names: list[str] = []
    began = time.monotonic()
    wanted: int | None = None

    def going() -> bool:
        elapsed = time.monotonic() - began
        if wanted is None:
            return elapsed < TRIAL_S and len(names) < max_batches
        return elapsed < time_limit and len(names) < wanted

    async def creator() -> None:
        while going():
            try:
                batch = await create_batch(session, master)
            except grpc.aio.AioRpcError as exc:
                raise PreparationError(f"CreateBatch failed: {_status(exc)}") from None
            names.append(batch.name)
            on_progress(len(names), wanted)

    try:
        await asyncio.gather(*(creator() for _ in range(concurrency)))
        trial_rate = len(names) / (time.monotonic() - began)
        per_round = math.ceil(trial_rate * seconds_per_round * HEADROOM) + concurrency
        wanted = min(max_batches, rounds * per_round)
        await asyncio.gather(*(creator() for _ in range(concurrency)))
        await _first_record(session, names.pop())
    finally:
        await session.close()
    return Prepared(names, round(trial_rate, 1), wanted, round(time.monotonic() - began, 1))


async def _first_record(session: Session, batch: str) -> None:
    """One step recorded before any round: proves the call works, and the MES password, once
    verified with argon2, is recognised from then on, as on a floor that has been signing."""
    try:
        site = session.user.username.split(".", 1)[0]
        answer = await record(
            session, batch_pb.Batch(name=batch), step_record(site), job="mes"
        )
    except grpc.aio.AioRpcError as exc:
        raise PreparationError(f"RecordStep failed: {_status(exc)}") from None
    if answer.raised:
        raise PreparationError(f"RecordStep raised exceptions: {list(answer.raised)}")


def write_rounds(names: list[str], rounds: int, directory: Path) -> list[Path]:
    """The names shared out in ``rounds`` files of (nearly) equal length, none in two files."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(rounds):
        path = directory / f"batches-round-{number + 1}.txt"
        path.write_text("".join(f"{name}\n" for name in names[number::rounds]))
        paths.append(path)
    return paths


def _status(exc: grpc.aio.AioRpcError) -> str:
    return f"{exc.code().name}: {exc.details()}"
