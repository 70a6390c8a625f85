"""ProcessReadingsService over a real gRPC server on a loopback port (its interceptor, its
writer, SQLite): roles, the streamed ingest of 100,000 points in one call, resends, the
refusals that name the bad point, raw and bucketed reads, excursions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from sqlalchemy import Engine, func, select
from twinline.conjugation.v1 import readings_pb2 as api
from twinline.conjugation.v1.readings_pb2_grpc import (
    ProcessReadingsServiceStub,
    add_ProcessReadingsServiceServicer_to_server,
)

from services.common.domain.roles import Principal, Role
from services.common.grpc.auth import AuthInterceptor
from services.common.grpc.status import details_of
from services.common.identity.directory import UserDirectory
from services.common.identity.tokens import TokenIssuer
from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.tables import OutboxRow
from services.common.persistence.writer import Writer
from services.common.sites import SiteRegistry
from services.conjugation.__main__ import MIGRATIONS
from services.conjugation.readings.servicer import ProcessReadingsServicer
from services.conjugation.tables import ReadingChunkRow
from tests.conjugation.integration.conftest import create_run
from tests.support.databases import SITE
from tests.support.mbr import request_id
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(180)
S = 1_000_000
SECRET = "test-secret-for-tokens-0123456789abcdef"
TAG = "R201.TT01"
# A day ago: the server refuses points far ahead of its clock, not those of the past.
START = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
START_US = int(START.timestamp()) * S


@dataclass
class Server:
    engine: Engine
    stub: ProcessReadingsServiceStub
    tokens: TokenIssuer
    run: str

    def as_(self, *roles: Role, site: str = SITE) -> tuple[tuple[str, str], ...]:
        token, _ = self.tokens.issue(Principal(f"{site}.{roles[0]}", "Test", frozenset(roles),
                                               site))
        return (("authorization", f"Bearer {token}"),)


@pytest.fixture
async def server(tmp_path: Path, directory: UserDirectory) -> AsyncIterator[Server]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'conjugation.db'}",
                                    sqlite_synchronous="NORMAL")
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    writer = Writer(engine, SITE)
    writer.start()
    tokens = TokenIssuer(SECRET, 3600)
    grpc_server = grpc.aio.server(interceptors=[AuthInterceptor(tokens)])
    add_ProcessReadingsServiceServicer_to_server(ProcessReadingsServicer(
        writer=writer, engine=engine, directory=directory,
        site=SiteRegistry.load().get(SITE)), grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    run_id = await create_run(writer)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Server(engine, ProcessReadingsServiceStub(channel), tokens,
                     f"conjugationRuns/{run_id}")
    finally:
        await channel.close()
        await grpc_server.stop(1)
        await writer.stop()
        engine.dispose()


async def declare(server: Server, low: float = 20.0, high: float = 25.0, dwell_s: int = 30,
                  tag: str = TAG) -> api.Tag:
    request = api.DeclareTagRequest(request_id=request_id(), tag=api.Tag(
        run=server.run, tag=tag, description="reactor jacket temperature", unit="Cel",
        low_limit=low, high_limit=high, dwell=duration_pb2.Duration(seconds=dwell_s)))
    response = await server.stub.DeclareTag(request, metadata=server.as_(Role.PROCESS_ENGINEER))
    return response.tag


def messages(run: str, times: list[int], values: list[float], per_message: int = 100,
             unit: str = "Cel", tag: str = TAG) -> Iterator[api.StreamReadingsRequest]:
    for start in range(0, len(times), per_message):
        yield api.StreamReadingsRequest(run=run, points=[
            api.ReadingPoint(tag=tag, time_us=time, value=value, unit=unit,
                             quality=api.QUALITY_GOOD)
            for time, value in zip(times[start:start + per_message],
                                   values[start:start + per_message], strict=True)
        ])


async def stream(server: Server, requests: Iterator[api.StreamReadingsRequest],
                 role: Role = Role.INTEGRATION) -> api.StreamReadingsResponse:
    async def sent() -> AsyncIterator[api.StreamReadingsRequest]:
        for request in requests:
            yield request

    return await server.stub.StreamReadings(sent(), metadata=server.as_(role))  # type: ignore[no-any-return]


async def read(server: Server, **fields: object) -> list[api.ReadReadingsResponse]:
    call = server.stub.ReadReadings(api.ReadReadingsRequest(run=server.run, tag=TAG, **fields),
                                    metadata=server.as_(Role.OPERATOR))
    return [page async for page in call]


async def refusal(awaitable: object) -> tuple[grpc.StatusCode, dict[str, object], str]:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await awaitable  # type: ignore[misc]
    return refused.value.code(), details_of(refused.value), refused.value.details() or ""


async def test_100000_points_in_one_call_stored_and_read_back_identical(server: Server) -> None:
    await declare(server, low=-1000, high=1000)
    times = [START_US + index * 10_000 for index in range(100_000)]  # 100 Hz
    values = [20.0 + (index % 1013) / 7 for index in range(100_000)]
    summary = await stream(server, messages(server.run, times, values))
    assert (summary.received, summary.stored, summary.duplicates) == (100_000, 100_000, 0)
    pages = await read(server)
    assert [page.unit for page in pages] == ["Cel"] * len(pages)
    assert [time for page in pages for time in page.time_us] == times
    assert [value for page in pages for value in page.values] == values
    assert {quality for page in pages for quality in page.qualities} == {api.QUALITY_GOOD}
    # The same buffer again, as a bridge resends it after a reconnect: nothing stored twice.
    again = await stream(server, messages(server.run, times, values, per_message=1000))
    assert (again.received, again.stored, again.duplicates) == (100_000, 0, 100_000)
    assert sum(len(page.time_us) for page in await read(server)) == 100_000


async def test_a_range_and_buckets_by_hand(server: Server) -> None:
    await declare(server)
    times = [START_US + second * S for second in (0, 3, 9, 20, 29, 30)]
    values = [21.0, 22.0, 24.0, 23.0, 21.5, 24.5]
    await stream(server, messages(server.run, times, values))
    start = START.replace()
    ten = duration_pb2.Duration(seconds=10)
    pages = await read(server, bucket=ten, start_time=_stamp(start),
                       end_time=_stamp(start + timedelta(seconds=30)))
    buckets = [(b.start_us - START_US, b.count, b.min, b.max, b.mean)
               for page in pages for b in page.buckets]
    # [0, 10): 21, 22, 24 -> mean 22.333...; [20, 30): 23, 21.5 -> mean 22.25; 30 s excluded.
    assert buckets == [(0, 3, 21.0, 24.0, 67.0 / 3), (20 * S, 2, 21.5, 23.0, 22.25)]
    raw = await read(server, start_time=_stamp(start + timedelta(seconds=3)),
                     end_time=_stamp(start + timedelta(seconds=29)))
    assert list(raw[0].time_us) == times[1:4] and list(raw[0].values) == values[1:4]


def _stamp(moment: datetime) -> object:
    from google.protobuf import timestamp_pb2

    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def test_an_excursion_through_the_stream_and_a_blip_that_is_none(server: Server) -> None:
    await declare(server)  # 20 .. 25 Cel, dwell 30 s
    values = [22.0] * 300
    values[50:60] = [27.0] * 10  # a 10 s blip
    values[100:150] = [26.0] * 20 + [28.0] + [26.0] * 29  # 50 s above
    times = [START_US + second * S for second in range(300)]
    summary = await stream(server, messages(server.run, times, values, per_message=7))
    assert (summary.excursions_started, summary.excursions_ended) == (1, 1)
    again = await stream(server, messages(server.run, times, values))
    assert (again.excursions_started, again.excursions_ended, again.duplicates) == (0, 0, 300)
    listed = await server.stub.ListExcursions(api.ListExcursionsRequest(run=server.run),
                                              metadata=server.as_(Role.QA))
    assert [(e.extreme_value, e.duration.seconds, e.start_time.seconds - START_US // S)
            for e in listed.excursions] == [(28.0, 50, 100)]
    with read_session(server.engine) as session:
        sent = list(session.execute(select(OutboxRow.subject)).scalars())
    prefix = f"twinline.{SITE}.conjugation.readings."
    assert sent.count(prefix + "excursion_started") == 1
    assert sent.count(prefix + "excursion_ended") == 1


async def test_refusals_name_what_is_wrong(server: Server) -> None:
    code, details, _ = await refusal(declare(server.__class__(
        server.engine, server.stub, server.tokens, "conjugationRuns/SYR-CR-000099")))
    assert (code, details["reason"]) == (grpc.StatusCode.NOT_FOUND, "RUN_NOT_FOUND")
    # Only a process engineer, supervisor or admin declares a tag.
    code, details, _ = await refusal(server.stub.DeclareTag(
        api.DeclareTagRequest(request_id=request_id(), tag=api.Tag(run=server.run, tag=TAG,
                                                                   unit="Cel")),
        metadata=server.as_(Role.OPERATOR)))
    assert (code, details["reason"]) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_REQUIRED")
    code, details, _ = await refusal(server.stub.DeclareTag(
        api.DeclareTagRequest(request_id=request_id(), tag=api.Tag(
            run=server.run, tag="R201 TT01", unit="NULL", low_limit=5, high_limit=1)),
        metadata=server.as_(Role.SUPERVISOR)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details["fields"] == ["tag.tag", "tag.unit", "tag.high_limit"]
    await declare(server)
    # A point in another unit: the field of the point is named.
    code, details, _ = await refusal(stream(
        server, messages(server.run, [START_US, START_US + S], [21.0, 22.0], unit="[degF]")))
    assert (code, details["fields"]) == (
        grpc.StatusCode.INVALID_ARGUMENT, ["points[0].unit", "points[1].unit"])
    # An undeclared tag, an unknown run: named.
    code, details, message = await refusal(stream(
        server, messages(server.run, [START_US], [21.0], tag="R201.PT09")))
    assert (code, details["reason"]) == (grpc.StatusCode.FAILED_PRECONDITION, "TAG_NOT_DECLARED")
    assert "R201.PT09" in message
    code, details, message = await refusal(stream(
        server, messages("conjugationRuns/SYR-CR-000099", [START_US], [21.0])))
    assert (code, details["reason"]) == (grpc.StatusCode.NOT_FOUND, "RUN_NOT_FOUND")
    assert "SYR-CR-000099" in message
    # More than 10,000 points in one message.
    code, details, _ = await refusal(stream(server, messages(
        server.run, [START_US + index for index in range(10_001)], [21.0] * 10_001,
        per_message=10_001)))
    assert (code, details["fields"]) == (grpc.StatusCode.INVALID_ARGUMENT, ["points"])
    # A QA reviewer reads, but does not write readings.
    code, details, _ = await refusal(stream(server, messages(server.run, [START_US], [21.0]),
                                            role=Role.QA))
    assert (code, details["reason"]) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_REQUIRED")
    # Another site's operator does not write here.
    token, _ = server.tokens.issue(Principal("songdo.operator", "Op", frozenset({Role.OPERATOR}),
                                             "songdo"))

    async def one() -> AsyncIterator[api.StreamReadingsRequest]:
        for request in messages(server.run, [START_US], [21.0]):
            yield request

    code, details, _ = await refusal(server.stub.StreamReadings(
        one(), metadata=(("authorization", f"Bearer {token}"),)))
    assert (code, details["reason"]) == (grpc.StatusCode.PERMISSION_DENIED, "WRONG_SITE")
    tags = await server.stub.ListTags(api.ListTagsRequest(run=server.run),
                                      metadata=server.as_(Role.QA))
    assert [(tag.tag, tag.unit, tag.low_limit, tag.high_limit, tag.dwell.seconds)
            for tag in tags.tags] == [(TAG, "Cel", 20.0, 25.0, 30)]


async def test_points_of_a_quiet_stream_are_flushed_before_the_call_ends(
    server: Server,
) -> None:
    """A bridge's call lasts hours: its points are stored (and judged) within the flush
    interval, while the call is still open, not at its end."""
    await declare(server)
    release = asyncio.Event()

    async def trickle() -> AsyncIterator[api.StreamReadingsRequest]:
        for request in messages(server.run, [START_US, START_US + S], [21.0, 22.0]):
            yield request
        await release.wait()  # the call stays open until the points are seen stored

    def stored() -> int:
        with read_session(server.engine) as session:
            return int(session.execute(select(func.coalesce(func.sum(ReadingChunkRow.count),
                                                             0))).scalar_one())

    call = asyncio.ensure_future(server.stub.StreamReadings(
        trickle(), metadata=server.as_(Role.INTEGRATION)))
    try:
        await wait_until(lambda: stored() == 2, timeout=30,
                         message="the open call's points stored")
    finally:
        release.set()
    summary = await call
    assert (summary.received, summary.stored) == (2, 2)
