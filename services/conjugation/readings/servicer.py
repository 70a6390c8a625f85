"""ProcessReadingsService: translates requests to use cases and results to responses.

StreamReadings takes a call's messages as they come and hands their points to the writer a
flush at a time (FLUSH_POINTS, or FLUSH_SECONDS after the oldest unflushed point), so the
merge into chunks and its audit entries cost one transaction per flush, not per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
from sqlalchemy import Engine
from twinline.conjugation.v1 import readings_pb2 as api
from twinline.conjugation.v1 import readings_pb2_grpc as api_grpc

from services.common.domain.clock import utc_now
from services.common.domain.errors import NotFound, Violations
from services.common.domain.roles import Principal
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import PAGE_BYTES
from services.common.grpc.request_bounds import request_violations
from services.common.grpc.rpc import SiteWriting, mutate, rpc_method
from services.common.grpc.status import abort_with
from services.common.persistence.database import read_session
from services.common.persistence.writer import Writer
from services.conjugation.readings import handlers
from services.conjugation.readings.domain.ingest import (
    Points,
    Received,
    add_points,
    check_points,
)
from services.conjugation.readings.domain.tags import (
    DECLARER_ROLES,
    INGEST_ROLES,
    Tag,
    check_tag,
)
from services.conjugation.readings.names import tag_of
from services.conjugation.readings.translate import (
    EPOCH,
    bucket_pages,
    duration_us,
    limits_from_proto,
    raw_pages,
    received_of,
    tag_to_proto,
    timestamp_us,
)
from services.conjugation.runs.names import run_id_of, run_name

# A flush when this many points are waiting, or when the oldest has waited this long.
FLUSH_POINTS = 5_000
FLUSH_SECONDS = 0.2
# Messages read ahead of the flush in progress: beyond, gRPC's flow control holds the client.
READ_AHEAD = 32
END_OF_TIME_US = 2**63 - 1
START_OF_TIME_US = -(2**63)


class ProcessReadingsServicer(SiteWriting, api_grpc.ProcessReadingsServiceServicer):
    @rpc_method
    async def DeclareTag(
        self, request: api.DeclareTagRequest, context: grpc.aio.ServicerContext
    ) -> api.DeclareTagResponse:
        principal = self._writer_principal(*DECLARER_ROLES)
        given = request.tag
        run_id = run_id_of(given.run, "tag.run")
        violations = Violations()
        limits = limits_from_proto(given, violations)
        check_tag(tag=given.tag, description=given.description, unit=given.unit,
                  limits=limits, violations=violations)
        violations.raise_if_any()
        return await mutate(
            self._writer, request=request, response_type=api.DeclareTagResponse,
            command=lambda uow: api.DeclareTagResponse(tag=tag_to_proto(handlers.declare_tag(
                uow, principal=principal, run_id=run_id, tag=given.tag,
                description=given.description, unit=given.unit, limits=limits,
            ))),
        )

    @rpc_method
    async def ListTags(
        self, request: api.ListTagsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListTagsResponse:
        current_principal()
        run_id = run_id_of(request.run)
        with read_session(self._engine) as session:
            tags = handlers.tags_of(session, run_id)
        return api.ListTagsResponse(tags=[tag_to_proto(tag) for tag in tags.values()])

    @rpc_method
    async def ListExcursions(
        self, request: api.ListExcursionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListExcursionsResponse:
        current_principal()
        run_id = run_id_of(request.run)
        with read_session(self._engine) as session:
            return api.ListExcursionsResponse(excursions=handlers.excursions_of(session, run_id))

    async def StreamReadings(
        self, request_iterator: AsyncIterator[api.StreamReadingsRequest],
        context: grpc.aio.ServicerContext,
    ) -> api.StreamReadingsResponse:
        try:
            principal = self._writer_principal(*INGEST_ROLES)
            return await _Ingest(self._engine, self._writer, principal).take(request_iterator)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_with(context, exc)
            raise

    async def ReadReadings(
        self, request: api.ReadReadingsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api.ReadReadingsResponse]:
        try:
            request_violations(request).raise_if_any()
            current_principal()
            run_id = run_id_of(request.run)
            name = tag_of(request.tag)
            violations = Violations()
            start = timestamp_us(request.start_time) if request.HasField("start_time") \
                else START_OF_TIME_US
            end = timestamp_us(request.end_time) if request.HasField("end_time") \
                else END_OF_TIME_US
            if end <= start:
                violations.add("end_time", "must be after start_time")
            width = duration_us(request.bucket, "bucket", violations)
            violations.raise_if_any()
            with read_session(self._engine) as session:
                tag = handlers.tags_of(session, run_id).get(name)
            if tag is None:
                raise NotFound("TAG_NOT_FOUND", f"tag {name} is not declared on "
                               f"{run_name(run_id)}", tag=name, run=run_name(run_id))
            opened = functools.partial(read_session, self._engine)
            if width:
                origin = start if request.HasField("start_time") else 0
                pages = bucket_pages(handlers.read_buckets(opened, run_id, name, start, end,
                                                           width, origin), tag.unit, PAGE_BYTES)
            else:
                pages = raw_pages(((span.times, span.values, span.qualities) for span in
                                   handlers.read_points(opened, run_id, name, start, end)),
                                  tag.unit, PAGE_BYTES)
            for page in pages:
                yield page
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_with(context, exc)


class _Ingest:
    """One StreamReadings call: its checks, its buffer, its flushes and its counts."""

    def __init__(self, engine: Engine, writer: Writer, principal: Principal) -> None:
        self._engine = engine
        self._writer = writer
        self._principal = principal
        self._tags: dict[str, dict[str, Tag]] = {}  # per run id
        self._buffer: dict[str, dict[str, Points]] = {}  # per run id, per tag
        self._buffered = 0
        self._oldest = 0.0
        self._received = 0
        self._done = handlers.Ingested()

    async def take(
        self, messages: AsyncIterator[api.StreamReadingsRequest]
    ) -> api.StreamReadingsResponse:
        queue: asyncio.Queue[api.StreamReadingsRequest | None] = asyncio.Queue(READ_AHEAD)

        async def read() -> None:
            async for message in messages:
                await queue.put(message)
            await queue.put(None)

        reader = asyncio.get_running_loop().create_task(read(), name="readings-reader")
        try:
            while True:
                message = await self._next(queue, reader)
                if message is None:
                    break
                self._add(message)
                if self._buffered >= FLUSH_POINTS:
                    await self._flush()
            await self._flush()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        return api.StreamReadingsResponse(
            received=self._received, stored=self._done.stored,
            duplicates=self._done.duplicates,
            excursions_started=self._done.excursions_started,
            excursions_ended=self._done.excursions_ended,
        )

    async def _next(
        self, queue: asyncio.Queue[api.StreamReadingsRequest | None], reader: asyncio.Task[None]
    ) -> api.StreamReadingsRequest | None:
        """The next message (None at the end of the stream); flushes while none comes and
        points have waited FLUSH_SECONDS. A failure of the client's stream ends the call."""
        if not queue.empty():
            return queue.get_nowait()
        getter = asyncio.ensure_future(queue.get())
        try:
            while True:
                if reader.done() and not reader.cancelled() and reader.exception() is not None:
                    reader.result()
                waited = time.monotonic() - self._oldest
                timeout = None if not self._buffered else max(0.0, FLUSH_SECONDS - waited)
                waiting = {getter} if reader.done() else {getter, reader}
                done, _ = await asyncio.wait(waiting, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    return getter.result()
                if not done:
                    await self._flush()
        finally:
            getter.cancel()

    def _add(self, message: api.StreamReadingsRequest) -> None:
        run_id = run_id_of(message.run)
        received = received_of(message)
        tags = self._tags_of(run_id, received)
        check_points(received, tags, run_name=run_name(run_id), now_us=now_us())
        if not self._buffered:
            self._oldest = time.monotonic()
        add_points(received, self._buffer.setdefault(run_id, {}))
        self._buffered += len(received.times)
        self._received += len(received.times)

    def _tags_of(self, run_id: str, received: Received) -> dict[str, Tag]:
        """The run's tags, read again when a point names one not known at the last read."""
        tags = self._tags.get(run_id)
        if tags is None or not set(received.tags) <= tags.keys():
            with read_session(self._engine) as session:
                tags = self._tags[run_id] = handlers.tags_of(session, run_id)
        return tags

    async def _flush(self) -> None:
        buffer, self._buffer, self._buffered = self._buffer, {}, 0
        for run_id, points in buffer.items():
            done = await self._writer.run(functools.partial(
                handlers.ingest, principal=self._principal, run_id=run_id, points=points
            ))
            self._done.add(done)


def now_us() -> int:
    """The server's clock, in microseconds since the epoch."""
    return (utc_now() - EPOCH) // timedelta(microseconds=1)
