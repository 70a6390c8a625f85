"""Cross-site probe: creates records one at a time at the origin site and, from the moment each
Create returns (the commit), polls the other site's SiteViewService every ``interval`` until the
record is there or ``deadline`` passes (a miss). Prints JSON lines (see bench/reporting.py).

    TWINLINE_BENCH_TOKEN=... TWINLINE_BENCH_VIEW_TOKEN=... python -m bench.cross_site \
        --create-address 127.0.0.1:50051 --view-address 127.0.0.1:50062
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import time
from collections import Counter
from typing import Any

import grpc
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.siteview.v1 import site_view_service_pb2 as view_api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from bench.reporting import MEASURE_END, MEASURE_START, TOKEN_ENV, VIEW_TOKEN_ENV, emit
from bench.stats import latency_summary_ms
from services.client.session import with_token
from services.devstack.recipes import conjugation_recipe
from tests.support.mbr import request_id

CALL_TIMEOUT_S = 10.0


class Probe:
    """Creates records at the origin and polls the other site's view for them."""

    def __init__(
        self, create: grpc.aio.Channel, view: grpc.aio.Channel, *, create_token: str,
        view_token: str, interval: float,
    ) -> None:
        self.interval = interval
        self.records = MasterBatchRecordServiceStub(create)  # type: ignore[no-untyped-call]
        self.view = SiteViewServiceStub(view)  # type: ignore[no-untyped-call]
        self.create_metadata = with_token(create_token)
        self.view_metadata = with_token(view_token)
        self.recipe = conjugation_recipe()
        self.errors: Counter[str] = Counter()
        # How long each poll took: what the delay is quantised by, beside the interval.
        self.poll_round_trips: list[float] = []

    async def create(self) -> tuple[str, float, float]:
        """(name, when sent, when committed) of one new record."""
        sent = time.perf_counter()
        answer = await self.records.CreateMasterBatchRecord(
            api.CreateMasterBatchRecordRequest(
                request_id=request_id(), master_batch_record=self.recipe
            ),
            metadata=self.create_metadata, timeout=CALL_TIMEOUT_S,
        )
        return answer.master_batch_record.name, sent, time.perf_counter()

    async def wait_listed(self, name: str, committed: float, deadline: float) -> tuple[float, int]:
        """Seconds from ``committed`` until the view returns ``name`` (NaN: missed), and polls."""
        polls = 0
        while True:
            polled = time.perf_counter()
            polls += 1
            try:
                await self.view.GetMasterBatchRecord(
                    view_api.GetMasterBatchRecordRequest(name=name),
                    metadata=self.view_metadata,
                    timeout=max(0.05, committed + deadline - polled),
                )
                answered = time.perf_counter()
                self.poll_round_trips.append(answered - polled)
                return answered - committed, polls
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    self.errors[exc.code().name] += 1
            now = time.perf_counter()
            self.poll_round_trips.append(now - polled)
            if now - committed >= deadline:
                return float("nan"), polls
            await asyncio.sleep(max(0.0, polled + self.interval - now))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    create_channel = grpc.aio.insecure_channel(args.create_address)
    view_channel = grpc.aio.insecure_channel(args.view_address)
    began = time.perf_counter()
    try:
        probe = Probe(
            create_channel, view_channel, create_token=os.environ[TOKEN_ENV],
            view_token=os.environ[VIEW_TOKEN_ENV], interval=args.interval,
        )
        # The first record may wait for the cross-domain sourcing to attach (a few seconds on a
        # fresh deployment); then a few more warm the path. None of these is measured.
        ready_s = float("nan")
        for index in range(1 + args.warmup_records):
            name, _, committed = await probe.create()
            delay, _ = await probe.wait_listed(
                name, committed, args.ready_timeout if index == 0 else args.deadline
            )
            if index == 0:
                ready_s = delay
                if math.isnan(delay):  # the link never carried it
                    raise SystemExit(f"{name} not listed by the other site's view in time")
        probe.errors.clear()
        probe.poll_round_trips.clear()
        # The probe's own full garbage collections (about 20 ms over what its imports built)
        # would show as delays of the system under test: set-up is moved out of their sight.
        gc.collect()
        gc.freeze()
        emit(event=MEASURE_START)
        delays: list[float] = []
        create_latencies: list[float] = []
        polls_total = missed = 0
        for index in range(args.records):
            if time.perf_counter() - began > args.time_limit:
                break
            name, sent, committed = await probe.create()
            create_latencies.append(committed - sent)
            delay, polls = await probe.wait_listed(name, committed, args.deadline)
            polls_total += polls
            if not math.isnan(delay):
                delays.append(delay)
            else:
                missed += 1
            emit(progress=(index + 1) / args.records)
        emit(event=MEASURE_END)
    finally:
        await create_channel.close()
        await view_channel.close()
    measured = len(delays) + missed
    return {
        "records_requested": args.records,
        "records_measured": measured,
        "missed": missed,
        "deadline_s": args.deadline,
        "poll_interval_ms": args.interval * 1000,
        "polls_per_record": round(polls_total / measured, 1) if measured else 0,
        "view_errors": dict(probe.errors),
        "first_record_ready_s": round(ready_s, 3),
        "delay": latency_summary_ms(delays),
        "create_latency": latency_summary_ms(create_latencies),
        "poll_round_trip": latency_summary_ms(probe.poll_round_trips),
        "delays_ms": [round(delay * 1000, 3) for delay in delays],
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cross_site", description=__doc__)
    parser.add_argument("--create-address", required=True, help="origin batch_records host:port")
    parser.add_argument("--view-address", required=True, help="other site's site_view host:port")
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--warmup-records", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.001, help="seconds between polls")
    parser.add_argument("--deadline", type=float, default=5.0, help="seconds per record")
    parser.add_argument("--ready-timeout", type=float, default=60.0,
                        help="seconds the first (unmeasured) record may take")
    parser.add_argument("--time-limit", type=float, default=180.0,
                        help="seconds after which no further record is started")
    return parser.parse_args()


def main() -> None:
    emit(result=asyncio.run(run(parse_args())))


if __name__ == "__main__":
    main()
