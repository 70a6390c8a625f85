"""Load client: ``concurrency`` unary calls always in flight, a warm-up, then a fixed measured
window; prints JSON lines (see bench/reporting.py). The same code drives the service and the echo:
only the method differs, the request (a fresh request_id each) and the metadata are the same.

    TWINLINE_BENCH_TOKEN=... python -m bench.load --target create --address 127.0.0.1:50051
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api

from bench.echo_server import ECHO_METHOD
from bench.reporting import MEASURE_END, MEASURE_START, TOKEN_ENV, emit
from bench.stats import latency_summary_ms
from services.client import with_token
from tests.support.mbr import conjugation_recipe

CREATE_METHOD = "/twinline.batchrecords.v1.MasterBatchRecordService/CreateMasterBatchRecord"
CALL_TIMEOUT_S = 10.0
PROGRESS_EVERY_S = 0.25

Call = Callable[..., Awaitable[Any]]


def method_of(channel: grpc.aio.Channel, target: str) -> tuple[Call, Callable[[Any], str]]:
    """The multicallable for ``target`` and how to read a record name from its response."""
    if target == "create":
        create = channel.unary_unary(
            CREATE_METHOD,
            request_serializer=api.CreateMasterBatchRecordRequest.SerializeToString,
            response_deserializer=api.CreateMasterBatchRecordResponse.FromString,
        )
        return create, lambda response: response.master_batch_record.name
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

    def holds(self, moment: float) -> bool:
        return self.start <= moment < self.end


async def run(args: argparse.Namespace) -> dict[str, Any]:
    metadata = with_token(os.environ[TOKEN_ENV])
    recipe = conjugation_recipe()
    channels = [grpc.aio.insecure_channel(args.address) for _ in range(args.channels)]
    methods = [method_of(channel, args.target) for channel in channels]
    began = time.perf_counter()
    window = Window(began + args.warmup, began + args.warmup + args.duration)
    issued = 0

    async def caller(index: int) -> None:
        nonlocal issued
        call, name_of = methods[index % len(methods)]
        while issued < args.max_calls and time.perf_counter() < window.end:
            issued += 1
            request = api.CreateMasterBatchRecordRequest(
                request_id=str(uuid.uuid4()), master_batch_record=recipe
            )
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
            await asyncio.sleep(max(0.0, min(wake, window.end) - now))
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
    return {
        "target": args.target,
        "address": args.address,
        "concurrency": args.concurrency,
        "channels": args.channels,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "calls_issued": issued,
        "completed": completed,
        "errors": dict(window.errors),
        "requests_per_s": round(completed / args.duration, 1),
        "latency": latency_summary_ms(window.latencies),
        "client_cpu_cores": round((cpu_at_end - cpu_at_start) / args.duration, 3),
        "newest_name": window.newest_name,
        # Merged across rounds by python -m bench, not kept in the results file.
        "latencies_us": [round(latency * 1e6) for latency in window.latencies],
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--target", choices=("create", "echo"), required=True)
    parser.add_argument("--address", required=True, help="host:port of the server")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not measured")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured")
    parser.add_argument("--max-calls", type=int, default=500_000, help="bound on calls issued")
    return parser.parse_args()


def main() -> None:
    emit(result=asyncio.run(run(parse_args())))


if __name__ == "__main__":
    main()
