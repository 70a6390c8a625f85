"""Load client: ``concurrency`` unary calls always in flight, a warm-up, then a fixed measured
window; prints JSON lines (see bench/reporting.py). The same code drives the service and the echo:
for ``create`` and ``echo`` only the method differs, the request (a fresh request_id each) and the
metadata are the same. ``record`` records step S1 of a prepared batch per call (bench/batches.py),
each batch once: when the batches run out, no call is started any more and the result says so.
``run`` creates a conjugation run of one batch in progress per call (a batch hosts any number).

    TWINLINE_BENCH_TOKEN=... python -m bench.load --target create --address 127.0.0.1:50051
    TWINLINE_BENCH_MES_TOKEN=... python -m bench.load --target record --batches names.txt \
        --address 127.0.0.1:50051
    TWINLINE_BENCH_CONJUGATION_TOKEN=... python -m bench.load --target run --batch batches/... \
        --address 127.0.0.1:50053
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import message
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.conjugation.v1 import run_service_pb2 as run_api

from bench.batches import step_record
from bench.echo_server import ECHO_METHOD
from bench.reporting import (
    CONJUGATION_TOKEN_ENV,
    MEASURE_END,
    MEASURE_START,
    MES_TOKEN_ENV,
    TOKEN_ENV,
    emit,
)
from bench.stats import latency_summary_ms
from services.client.session import with_token
from services.devstack.recipes import conjugation_recipe
from tests.support.mbr import sign
from tests.support.runs import create_request

CREATE_METHOD = "/twinline.batchrecords.v1.MasterBatchRecordService/CreateMasterBatchRecord"
RECORD_METHOD = "/twinline.batchrecords.v1.BatchRecordService/RecordStep"
RUN_METHOD = "/twinline.conjugation.v1.ConjugationRunService/CreateRun"
# Whose token each target's calls carry.
TOKEN_OF = {"create": TOKEN_ENV, "echo": TOKEN_ENV, "record": MES_TOKEN_ENV,
            "run": CONJUGATION_TOKEN_ENV}
CALL_TIMEOUT_S = 10.0
PROGRESS_EVERY_S = 0.25

Call = Callable[..., Awaitable[Any]]


class OutOfBatches(Exception):
    """Every prepared batch has had its step recorded."""


def requests_of(args: argparse.Namespace) -> Callable[[], message.Message]:
    """A new request per call: a fresh request_id, and for ``record`` a batch not used before."""
    if args.target == "run":
        return lambda: create_request(args.batch)
    if args.target != "record":
        recipe = conjugation_recipe()
        return lambda: api.CreateMasterBatchRecordRequest(
            request_id=str(uuid.uuid4()), master_batch_record=recipe
        )
    batches: Iterator[str] = iter(Path(args.batches).read_text().split())
    step, signature = step_record(), sign("mes")

    def record() -> message.Message:
        batch = next(batches, None)
        if batch is None:
            raise OutOfBatches
        return batch_api.RecordStepRequest(
            request_id=str(uuid.uuid4()), batch=batch, step=step, signature=signature
        )

    return record


def method_of(channel: grpc.aio.Channel, target: str) -> tuple[Call, Callable[[Any], str]]:
    """The multicallable for ``target`` and how to read a record name from its response."""
    if target == "create":
        create = channel.unary_unary(
            CREATE_METHOD,
            request_serializer=api.CreateMasterBatchRecordRequest.SerializeToString,
            response_deserializer=api.CreateMasterBatchRecordResponse.FromString,
        )
        return create, lambda response: response.master_batch_record.name
    if target == "record":
        record = channel.unary_unary(
            RECORD_METHOD,
            request_serializer=batch_api.RecordStepRequest.SerializeToString,
            response_deserializer=batch_api.RecordStepResponse.FromString,
        )
        return record, lambda response: response.batch.name
    if target == "run":
        create_run = channel.unary_unary(
            RUN_METHOD, request_serializer=run_api.CreateRunRequest.SerializeToString,
            response_deserializer=run_api.CreateRunResponse.FromString,
        )
        return create_run, lambda response: response.run.name
    echo = channel.unary_unary(
        ECHO_METHOD,
        request_serializer=api.CreateMasterBatchRecordRequest.SerializeToString,
        response_deserializer=api.CreateMasterBatchRecordRequest.FromString,
    )
    return echo, lambda response: ""


class Window:
    """What the calls that complete inside [start, end) add up to."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.newest_name = ""
        self.cut_short = False

    def holds(self, moment: float) -> bool:
        return self.start <= moment < self.end

    def end_at(self, moment: float) -> None:
        """Ends the window early (nothing left to call): what was measured until then counts."""
        if moment < self.end:
            self.start, self.end = min(self.start, moment), moment
            self.cut_short = True


async def run(args: argparse.Namespace) -> dict[str, Any]:
    metadata = with_token(os.environ[TOKEN_OF[args.target]])
    next_request = requests_of(args)
    channels = [grpc.aio.insecure_channel(args.address) for _ in range(args.channels)]
    methods = [method_of(channel, args.target) for channel in channels]
    began = time.perf_counter()
    window = Window(began + args.warmup, began + args.warmup + args.duration)
    ended_early = asyncio.Event()
    issued = 0

    async def caller(index: int) -> None:
        nonlocal issued
        call, name_of = methods[index % len(methods)]
        while issued < args.max_calls and time.perf_counter() < window.end:
            try:
                request = next_request()
            except OutOfBatches:
                window.end_at(time.perf_counter())
                ended_early.set()
                return
            issued += 1
            sent = time.perf_counter()
            try:
                response = await call(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                if window.holds(time.perf_counter()):
                    window.errors[exc.code().name] += 1
                continue
            received = time.perf_counter()
            if window.holds(received):
                window.latencies.append(received - sent)
                name = name_of(response)
                if name > window.newest_name:
                    window.newest_name = name

    async def report_progress() -> tuple[float, float]:
        """Progress lines until the window ends; the client's CPU seconds at its two edges."""
        total = args.warmup + args.duration
        cpu_at_start: float | None = None
        while (now := time.perf_counter()) < window.end:
            if cpu_at_start is None and now >= window.start:
                cpu_at_start = time.process_time()
                emit(event=MEASURE_START)
            emit(progress=min(1.0, (now - began) / total))
            wake = now + PROGRESS_EVERY_S
            if cpu_at_start is None:
                wake = min(wake, window.start)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended_early.wait(), max(0.0, min(wake, window.end) - now))
        cpu_at_end = time.process_time()
        emit(event=MEASURE_END, progress=1.0)
        return (cpu_at_end if cpu_at_start is None else cpu_at_start), cpu_at_end

    try:
        callers = [asyncio.create_task(caller(index)) for index in range(args.concurrency)]
        cpu_at_start, cpu_at_end = await report_progress()
        # In-flight calls end within CALL_TIMEOUT_S; they no longer count.
        await asyncio.wait_for(asyncio.gather(*callers), CALL_TIMEOUT_S + 5)
    finally:
        for channel in channels:
            await channel.close()
    completed = len(window.latencies)
    measured = window.end - window.start
    return {
        "target": args.target,
        "address": args.address,
        "concurrency": args.concurrency,
        "channels": args.channels,
        "warmup_s": args.warmup,
        # Shorter than asked only when the prepared batches ran out (see ran_out_of_batches).
        "duration_s": round(measured, 3),
        "calls_issued": issued,
        "completed": completed,
        "errors": dict(window.errors),
        "requests_per_s": round(completed / measured, 1) if measured > 0 else 0.0,
        "latency": latency_summary_ms(window.latencies),
        "client_cpu_cores": round((cpu_at_end - cpu_at_start) / measured, 3) if measured else 0.0,
        "newest_name": window.newest_name,
        "ran_out_of_batches": window.cut_short,
        # Merged across rounds by python -m bench, not kept in the results file.
        "latencies_us": [round(latency * 1e6) for latency in window.latencies],
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--target", choices=tuple(TOKEN_OF), required=True)
    parser.add_argument("--address", required=True, help="host:port of the server")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not measured")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured")
    parser.add_argument("--max-calls", type=int, default=500_000, help="bound on calls issued")
    parser.add_argument("--batches", type=Path,
                        help="record: file of batch names, one per line, each used once")
    parser.add_argument("--batch", help='run: the batch in progress ("batches/{id}") runs are of')
    args = parser.parse_args()
    if args.target == "record" and args.batches is None:
        parser.error("--target record needs --batches")
    if args.target == "run" and args.batch is None:
        parser.error("--target run needs --batch")
    return args


def main() -> None:
    emit(result=asyncio.run(run(parse_args())))


if __name__ == "__main__":
    main()
