"""WatchChanges on a SQLite file, the real handlers and the real servicer on a grpc.aio server:
a few thousand changes read, cut off, and resumed by token with no gap and no duplicate, while
more are applied; late commits, filters, keep-alives and refused tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from sqlalchemy import Engine
from twinline.siteview.v1 import site_view_service_pb2 as api

from services.common.grpc.status import details_of
from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
)
from services.common.persistence.writer import Writer
from services.site_view.__main__ import MIGRATIONS
from tests.support.replica_events import T0
from tests.support.replica_stream import apply, stream_of, tokens
from tests.support.site_view import ViewClient, serving

pytestmark = pytest.mark.timeout(120)

READ_WITHIN = 30.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'site_view.db'}",
                                    sqlite_synchronous="NORMAL")
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    yield engine
    engine.dispose()


@pytest_asyncio.fixture
async def writer(engine: Engine) -> AsyncIterator[Writer]:
    writer = Writer(engine, "syracuse", clock=lambda: T0)
    writer.start()
    yield writer
    await writer.stop()


@pytest_asyncio.fixture
async def client(engine: Engine) -> AsyncIterator[ViewClient]:
    async with serving(engine, keep_alive_s=0.5) as served:
        yield served


async def watch(
    client: ViewClient, *, resume_token: str = "", up_to: int, site: str = "", kind: str = "",
) -> list[api.Change]:
    """The first ``up_to`` changes WatchChanges serves, then the call cancelled, as a client
    cut off mid-stream would be (the rest of the message it was reading is dropped)."""
    stub, metadata = client
    call = stub.WatchChanges(
        api.WatchChangesRequest(resume_token=resume_token, site=site, kind=kind),
        metadata=metadata,
    )
    seen: list[api.Change] = []

    async def read() -> None:
        async for response in call:
            seen.extend(response.changes[:up_to - len(seen)])
            if len(seen) >= up_to:
                return

    try:
        await asyncio.wait_for(read(), READ_WITHIN)
    finally:
        call.cancel()
    return seen


async def test_a_watch_cut_off_and_resumed_by_token_misses_nothing_and_repeats_nothing(
    writer: Writer, client: ViewClient
) -> None:
    published = stream_of(500)  # 3050 events, 2500 changes
    await apply(writer, published)
    expected = tokens(published)
    assert len(expected) == 2500
    seen: list[api.Change] = []
    # Cut off at uneven points, some in the middle of a message of 200 changes.
    for cut in (1, 317, 1000, 1001, len(expected)):
        resume = seen[-1].token if seen else ""
        seen += await watch(client, resume_token=resume, up_to=cut - len(seen))
    assert [change.token for change in seen] == expected
    # Each change says what changed: its kind, name, site, event type, time and revision.
    batch = next(change for change in seen if change.name == "batches/SDO-B-2026-00001")
    assert (batch.kind, batch.home_site, batch.event_type, batch.revision, batch.etag) == (
        "batch", "songdo", "twinline.events.v1.BatchCreated", 1, "1"
    )
    assert batch.time.ToDatetime().replace(tzinfo=T0.tzinfo) == T0 + timedelta(seconds=1)
    kinds = {change.kind for change in seen}
    assert kinds == {"master_batch_record", "batch", "run", "sample", "disposition"}


async def test_a_watch_resumed_while_events_are_applied_sees_each_change_once(
    writer: Writer, client: ViewClient
) -> None:
    before = stream_of(150)
    during = stream_of(350, first_sequence=before[-1].sequence + 1, first_lot=150)
    await apply(writer, before)
    expected = tokens(before) + tokens(during)
    applying = asyncio.create_task(apply(writer, during, pause=0.02))
    try:
        seen = await watch(client, up_to=400)
        while len(seen) < len(expected):
            # Cut off after at most 613 more, and resumed from the last change seen.
            seen += await watch(
                client, resume_token=seen[-1].token, up_to=min(613, len(expected) - len(seen))
            )
        await asyncio.wait_for(applying, READ_WITHIN)
    finally:
        applying.cancel()
    assert [change.token for change in seen] == expected
    assert len(set(expected)) == len(expected) == 2500


async def test_an_event_taken_in_late_is_served_after_the_ones_before_it_in_commit_order(
    writer: Writer, client: ViewClient
) -> None:
    """A redelivered event (its first transaction failed) commits after later sequences: a
    client that has read past its sequence still gets it, once."""
    lot = stream_of(2)
    changes = [p for p in lot if p.change]
    first, late, rest = changes[:3], changes[3], changes[4:]
    await apply(writer, first)
    seen = await watch(client, up_to=3)
    await apply(writer, rest)
    await apply(writer, [late])
    seen += await watch(client, resume_token=seen[-1].token, up_to=len(rest))
    seen += await watch(client, resume_token=seen[-1].token, up_to=1)
    assert [change.token for change in seen] == (
        tokens(first) + tokens(rest) + [str(late.sequence)]
    )


async def test_filters_by_site_and_kind_and_a_keep_alive_to_resume_from(
    writer: Writer, client: ViewClient
) -> None:
    published = stream_of(40)
    await apply(writer, published)
    songdo_batches = await watch(client, site="songdo", kind="batch", up_to=20)
    assert [change.name for change in songdo_batches] == [
        f"batches/SDO-B-2026-{number:05d}" for number in range(1, 40, 2)
    ]
    stub, metadata = client
    call = stub.WatchChanges(api.WatchChangesRequest(site="tongyeong"), metadata=metadata)
    try:
        keep_alive = await asyncio.wait_for(call.read(), READ_WITHIN)
    finally:
        call.cancel()
    # Nothing matched: an empty message, with the newest change to resume from.
    assert isinstance(keep_alive, api.WatchChangesResponse)
    assert not keep_alive.changes
    assert keep_alive.resume_token == tokens(published)[-1]


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"resume_token": "abc"}, "resume_token"),
        ({"resume_token": "-5"}, "resume_token"),
        ({"resume_token": "0"}, "resume_token"),
        ({"resume_token": "12.5"}, "resume_token"),
        ({"resume_token": "9" * 20}, "resume_token"),
        ({"resume_token": "١٢"}, "resume_token"),  # Arabic-Indic digits
        ({"kind": "equipment"}, "kind"),
    ],
)
async def test_a_malformed_token_or_kind_is_refused_naming_the_field(
    client: ViewClient, request_fields: dict[str, str], field: str
) -> None:
    stub, metadata = client
    call = stub.WatchChanges(api.WatchChangesRequest(**request_fields), metadata=metadata)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await asyncio.wait_for(call.read(), READ_WITHIN)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details_of(refused.value)["fields"] == [field]


async def test_a_token_of_no_change_of_this_view_is_refused(
    writer: Writer, client: ViewClient
) -> None:
    await apply(writer, stream_of(1))
    stub, metadata = client
    call = stub.WatchChanges(api.WatchChangesRequest(resume_token="4"), metadata=metadata)
    with pytest.raises(grpc.aio.AioRpcError) as refused:  # sequence 4: a latest reading
        await asyncio.wait_for(call.read(), READ_WITHIN)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details_of(refused.value)["reason"] == "RESUME_TOKEN_UNKNOWN"
