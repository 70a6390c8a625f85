"""Readings load client: one StreamReadings call per stream, all open at once, each writing
messages of ``--points-per-message`` points of its own tag as fast as the server takes them;
a warm-up, then a fixed measured window; prints JSON lines (see bench/reporting.py). The same
code drives the conjugation service and the bare sink (bench/readings_sink.py): only the
address differs.

A call's points are acknowledged only by its answer, at its end, and a server that falls behind
holds a backlog in its read-ahead and HTTP/2 flow-control window that takes seconds to drain.
So a stream's figure is its points *ingested*: those its answer says stored, over the time from
its first write to that answer (warm-up included). The points written inside the window are
reported beside it, and the answer must say stored every point the call wrote (a mismatch is
reported, per stream).

    TWINLINE_BENCH_CONJUGATION_TOKEN=... python -m bench.readings --address 127.0.0.1:50053 \
        --run conjugationRuns/SYR-R-000001 --tags bench.s1,bench.s2 --points-per-message 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import grpc
from twinline.conjugation.v1 import readings_pb2 as api

from bench.reporting import CONJUGATION_TOKEN_ENV, MEASURE_END, MEASURE_START, emit
from services.client.session import with_token

STREAM_METHOD = "/twinline.conjugation.v1.ProcessReadingsService/StreamReadings"
PROGRESS_EVERY_S = 0.25
# After the window, a call has this long to be answered (its last points flushed).
ANSWER_TIMEOUT_S = 60.0
# A 100 Hz source; a chunk (4,096 points) then spans 41 s of it.
INTERVAL_US = 10_000
# The first point is this far back, so a long run's points stay far from the server's clock.
HISTORY_US = 7 * 24 * 3600 * 1_000_000
# The tags are declared with these limits (Cel); the values stay well inside them.
LOW_LIMIT, HIGH_LIMIT = 20.0, 30.0
WAVE = tuple(25.0 + 2.0 * math.sin(2 * math.pi * step / 600) for step in range(600))


@dataclass
class TagSource:
    """One tag's points as a source sends them: every time later than the one before, by
    ``interval_us``, so none is ever a duplicate; values a slow wave inside the limits."""

    run: str
    tag: str
    start_us: int
    interval_us: int = INTERVAL_US
    unit: str = "Cel"
    sent: int = 0

    def message(self, count: int) -> api.StreamReadingsRequest:
        """The next ``count`` points, in one message."""
        first, self.sent = self.sent, self.sent + count
        return api.StreamReadingsRequest(run=self.run, points=[
            api.ReadingPoint(
                tag=self.tag, time_us=self.start_us + number * self.interval_us,
                value=WAVE[number % len(WAVE)], unit=self.unit, quality=api.QUALITY_GOOD,
            )
            for number in range(first, first + count)
        ])


@dataclass
class StreamFigures:
    """What one call wrote, in the window and in all, and what its answer said."""

    tag: str
    sent: int = 0
    # perf_counter() seconds: the call's first write, its answer
    started: float | None = None
    answered: float | None = None
    sent_in_window: int = 0
    messages_in_window: int = 0
    received: int | None = None
    stored: int | None = None
    duplicates: int | None = None
    answer_s: float | None = None
    error: str | None = None

    @property
    def mismatch(self) -> bool:
        """The answer does not say every point written was received and stored once."""
        return self.error is not None or not (
            self.received == self.stored == self.sent and self.duplicates == 0
        )

    @property
    def ingest_s(self) -> float | None:
        """From the first write to the answer, which says every point of the call stored."""
        if self.started is None or self.answered is None:
            return None
        return self.answered - self.started

    def ingested_per_s(self) -> float:
        """Points stored per second over the call's life (0 without an answer)."""
        seconds = self.ingest_s
        return self.stored / seconds if self.stored and seconds else 0.0

    def as_dict(self, seconds: float) -> dict[str, Any]:
        ingest_s = self.ingest_s
        return {
            "tag": self.tag, "sent": self.sent, "sent_in_window": self.sent_in_window,
            "ingested_points_per_s": round(self.ingested_per_s(), 1),
            "ingest_s": None if ingest_s is None else round(ingest_s, 3),
            "points_per_s": round(self.sent_in_window / seconds, 1) if seconds else 0.0,
            "messages_in_window": self.messages_in_window, "received": self.received,
            "stored": self.stored, "duplicates": self.duplicates,
            "answer_s": None if self.answer_s is None else round(self.answer_s, 3),
            "error": self.error, "mismatch": self.mismatch,
        }


async def stream(
    channel: grpc.aio.Channel, source: TagSource, per_message: int, *,
    metadata: tuple[tuple[str, str], ...], window_start: float, window_end: float,
) -> StreamFigures:
    """Writes messages until the window ends, then ends the call and reads its answer."""
    call_of = channel.stream_unary(
        STREAM_METHOD, request_serializer=api.StreamReadingsRequest.SerializeToString,
        response_deserializer=api.StreamReadingsResponse.FromString,
    )
    figures = StreamFigures(source.tag)
    timeout = window_end - time.perf_counter() + ANSWER_TIMEOUT_S
    call = call_of(metadata=metadata, timeout=timeout)
    try:
        figures.started = time.perf_counter()
        while time.perf_counter() < window_end:
            await call.write(source.message(per_message))
            figures.sent += per_message
            if window_start <= time.perf_counter() < window_end:  # written inside the window
                figures.sent_in_window += per_message
                figures.messages_in_window += 1
        await call.done_writing()
        ended = time.perf_counter()
        answer = await call
        figures.answered = time.perf_counter()
        figures.answer_s = figures.answered - ended
    except grpc.aio.AioRpcError as exc:
        figures.error = f"{exc.code().name}: {exc.details()}"
        return figures
    figures.received, figures.stored = answer.received, answer.stored
    figures.duplicates = answer.duplicates
    return figures


async def report_progress(began: float, window_start: float, window_end: float
                          ) -> tuple[float, float]:
    """Progress lines until the window ends; the client's CPU seconds at its two edges."""
    total = window_end - began
    cpu_at_start: float | None = None
    while (now := time.perf_counter()) < window_end:
        if cpu_at_start is None and now >= window_start:
            cpu_at_start = time.process_time()
            emit(event=MEASURE_START)
        emit(progress=min(1.0, (now - began) / total))
        wake = now + PROGRESS_EVERY_S
        if cpu_at_start is None:
            wake = min(wake, window_start)
        await asyncio.sleep(max(0.0, min(wake, window_end) - now))
    cpu_at_end = time.process_time()
    emit(event=MEASURE_END, progress=1.0)
    return (cpu_at_end if cpu_at_start is None else cpu_at_start), cpu_at_end


async def run(args: argparse.Namespace) -> dict[str, Any]:
    metadata = with_token(os.environ.get(CONJUGATION_TOKEN_ENV, ""))
    tags = args.tags.split(",")
    start_us = args.start_us if args.start_us is not None else (
        time.time_ns() // 1000 - HISTORY_US
    )
    # A connection per stream, as separate sources would have.
    channels = [
        grpc.aio.insecure_channel(args.address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in tags
    ]
    try:
        for channel in channels:
            await channel.channel_ready()
        began = time.perf_counter()
        window_start, window_end = began + args.warmup, began + args.warmup + args.duration
        calls = [
            asyncio.create_task(stream(
                channel, TagSource(args.run, tag, start_us), args.points_per_message,
                metadata=metadata, window_start=window_start, window_end=window_end,
            ))
            for channel, tag in zip(channels, tags, strict=True)
        ]
        cpu_at_start, cpu_at_end = await report_progress(began, window_start, window_end)
        streams = await asyncio.gather(*calls)
    finally:
        for channel in channels:
            with contextlib.suppress(Exception):
                await channel.close()
    measured = args.duration
    in_window = sum(figures.sent_in_window for figures in streams)
    return {
        "address": args.address,
        "streams": len(streams),
        "points_per_message": args.points_per_message,
        "warmup_s": args.warmup,
        "duration_s": measured,
        # The figure: points stored per second of each call's life, summed over the streams
        # (points_stored, ingest_s: their totals over the streams, for merging rounds).
        "points_stored": sum(figures.stored or 0 for figures in streams),
        "ingest_s": round(sum(figures.ingest_s or 0.0 for figures in streams), 3),
        "ingested_points_per_s_per_stream": round(
            sum(figures.ingested_per_s() for figures in streams) / len(streams), 1
        ),
        "points_in_window": in_window,
        "points_per_s": round(in_window / measured, 1),
        "points_per_s_per_stream": round(in_window / measured / len(streams), 1),
        "mismatches": sum(figures.mismatch for figures in streams),
        "errors": [figures.error for figures in streams if figures.error],
        "client_cpu_cores": round((cpu_at_end - cpu_at_start) / measured, 3),
        "per_stream": [figures.as_dict(measured) for figures in streams],
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.readings", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", required=True, help="host:port of the server")
    parser.add_argument("--run", required=True, help='"conjugationRuns/{id}" the points are of')
    parser.add_argument("--tags", required=True,
                        help="comma-separated, one stream per tag (declared on the run)")
    parser.add_argument("--points-per-message", type=int, default=100)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not measured")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured")
    parser.add_argument("--start-us", type=int,
                        help="time of each tag's first point (default: 7 days ago)")
    return parser.parse_args()


def main() -> None:
    emit(result=asyncio.run(run(parse_args())))


if __name__ == "__main__":
    main()
