"""SiteViewService: translates requests to queries of the view and rows to responses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import grpc
from google.protobuf import duration_pb2, message, timestamp_pb2
from sqlalchemy import Engine
from twinline.batchrecords.v1 import batch_pb2
from twinline.common.v1 import quantity_pb2
from twinline.conjugation.v1 import run_pb2
from twinline.releasetesting.v1 import disposition_pb2, investigation_pb2, sample_pb2
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.siteview.v1 import site_view_service_pb2_grpc as api_grpc
from twinline.techtransfer.v1 import transfer_pb2

from services.batch_records.batches.names import batch_id_of
from services.batch_records.master.names import parse_name
from services.common.domain import bounds
from services.common.domain.clock import Clock, from_text, utc_now
from services.common.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import (
    decode_position,
    encode_token,
    page_of,
    page_of_messages,
    page_size_of,
)
from services.common.grpc.request_bounds import request_violations
from services.common.grpc.rpc import enum_filter, rpc_method
from services.common.grpc.status import abort_with
from services.common.persistence.database import read, read_session
from services.common.sites import SiteRegistry
from services.conjugation.runs.names import run_id_of
from services.release_testing.samples.names import sample_id_of
from services.site_view import domain, queries
from services.site_view.checksum import view_checksum
from services.site_view.handlers import CHANGE_KINDS
from services.site_view.translate import KNOWN_BATCH_STATES, batch_state_value
from services.tech_transfer.packages.names import package_id_of

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
DEFAULT_CONSUMPTION_PAGE_SIZE = 100
MAX_CONSUMPTION_PAGE_SIZE = 1000
# The view does not judge the home site's numbering; it only needs a plain id.
# WatchChanges: at most this many changes per message (and per read of the change log).
CHANGES_PER_MESSAGE = 200
# How often a caught-up watch looks for new changes, and after how long without a message it
# sends a keep-alive.
WATCH_POLL_S = 0.2
KEEP_ALIVE_S = 15.0
# A stream sequence in decimal fits a signed 64-bit column.
MAX_TOKEN_DIGITS = 19


def _position(token: str) -> queries.Position | None:
    return decode_position(token, str, str, int)  # type: ignore[return-value]


def _batch_position(token: str) -> queries.BatchPosition | None:
    return decode_position(token, str, str)  # type: ignore[return-value]


def _run_position(token: str) -> queries.RunPosition | None:
    return decode_position(token, str, str)  # type: ignore[return-value]


def _package_position(token: str) -> queries.PackagePosition | None:
    return decode_position(token, str, str)  # type: ignore[return-value]


def _effectivity_to_proto(held: queries.HeldEffectivity) -> api.SiteEffectivity:
    message = api.SiteEffectivity(
        master_batch_record=held.name, site=held.site, package=held.package
    )
    message.effective_time.FromDatetime(from_text(held.effective_time))
    return message


def _release_testing_position(token: str) -> queries.ReleaseTestingPosition | None:
    return decode_position(token, str, str)  # type: ignore[return-value]


def _disposition_position(token: str) -> queries.DispositionPosition | None:
    return decode_position(token, str, str, int)  # type: ignore[return-value]


def _batch_scope(site: str, batch: str) -> queries.BatchScopeFilter:
    """The filter of a listing of samples, investigations or dispositions; InvalidArgument
    for a site too long or a batch not named "batches/{batch_id}"."""
    bounds.text("site", site, bounds.ID_LEN)
    return queries.BatchScopeFilter(
        site=site, batch_id=batch_id_of(batch, "batch") if batch else ""
    )


def _latest_to_proto(reading: domain.LatestReading) -> api.LatestReading:
    message = api.LatestReading(tag=reading.tag, value=reading.value, unit=reading.unit)
    message.time.FromMicroseconds(reading.time_us)
    return message


def _consumption_position(token: str, lot_id: str) -> queries.ConsumptionPosition | None:
    """The position a token holds; the token names its lot, so it serves no other lot."""
    position = decode_position(token, str, str, str, int)
    if position is None:
        return None
    if position[0] != lot_id:
        raise InvalidArgument(
            [FieldViolation("page_token", "belongs to a listing of another lot_id")]
        )
    return position[1:]  # type: ignore[return-value]


def _consumption_to_proto(consumption: queries.LotConsumption) -> api.LotConsumption:
    return api.LotConsumption(
        batch=f"batches/{consumption.batch_id}", home_site=consumption.home_site,
        step_id=consumption.step_id, material=consumption.material,
        quantity=quantity_pb2.Quantity(value=consumption.quantity, unit=consumption.unit),
        batch_state=batch_state_value(consumption.batch_state),
    )


def _watermark_to_proto(mark: domain.Watermark, now: datetime) -> api.Watermark:
    message = api.Watermark(
        site=mark.site, stream_sequence=mark.stream_sequence, events_applied=mark.events_applied
    )
    if mark.last_event_time is not None:
        last_event_time = timestamp_pb2.Timestamp()
        last_event_time.FromDatetime(mark.last_event_time)
        message.last_event_time.CopyFrom(last_event_time)
    age = domain.age(mark, now)
    if age is not None:
        duration = duration_pb2.Duration()
        duration.FromTimedelta(age)
        message.age.CopyFrom(duration)
    if mark.last_heartbeat_time is not None:
        message.last_heartbeat_time.FromDatetime(mark.last_heartbeat_time)
    message.origin_last_sequence = mark.origin_last_sequence
    lag = domain.lag(mark, now)
    if lag is not None:
        message.lag.FromTimedelta(lag)
    message.current = domain.is_current(mark, now)
    return message


def _change_filter(request: api.WatchChangesRequest) -> queries.ChangeFilter:
    bounds.text("site", request.site, bounds.ID_LEN)
    if request.kind and request.kind not in CHANGE_KINDS:
        raise InvalidArgument([FieldViolation(
            "kind", f"{request.kind!r} is not one of {', '.join(CHANGE_KINDS)}"
        )])
    return queries.ChangeFilter(site=request.site, kind=request.kind)


def _token_sequence(token: str) -> int:
    """The stream sequence a resume token holds; InvalidArgument unless it is one."""
    if not (token.isascii() and token.isdigit() and len(token) <= MAX_TOKEN_DIGITS) \
            or int(token) == 0 or int(token) > 2**63 - 1:
        raise InvalidArgument([FieldViolation(
            "resume_token", "is not the token of a change: a stream sequence in decimal digits"
        )])
    return int(token)


def _change_to_proto(change: queries.LoggedChange) -> api.Change:
    message = api.Change(
        token=str(change.stream_sequence), kind=change.kind, name=change.name,
        home_site=change.home_site, event_type=change.event_type, revision=change.revision,
        etag=change.etag,
    )
    message.time.FromDatetime(from_text(change.event_time))
    return message



def _documents(found: Sequence[tuple[Any, bytes]], size: int, message_type: type[message.Message],
               field: str) -> dict[str, Any]:
    """A list response's fields from ``(key, document)`` rows read ``size + 1`` at a time:
    the page's resources in ``field`` (by count and bytes) and the next page's token."""
    page, token = page_of(found, size, lambda item: len(item[1]), lambda item: list(item[0]))
    return {field: [message_type.FromString(document) for _, document in page],
            "next_page_token": token}

class SiteViewServicer(api_grpc.SiteViewServiceServicer):
    """Read-only: any authenticated user of any site may read the view."""

    def __init__(
        self, *, engine: Engine, registry: SiteRegistry, clock: Clock = utc_now,
        watch_poll_s: float = WATCH_POLL_S, keep_alive_s: float = KEEP_ALIVE_S,
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._clock = clock
        self._watch_poll_s = watch_poll_s
        self._keep_alive_s = keep_alive_s

    async def WatchChanges(
        self, request: api.WatchChangesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api.WatchChangesResponse]:
        try:
            request_violations(request).raise_if_any()
            current_principal()
            filters = _change_filter(request)
            after = self._resume_position(request.resume_token)
            async for response in self._follow(after, filters):
                yield response
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_with(context, exc)

    def _resume_position(self, token: str) -> int:
        """The commit position after which to serve: 0 for no token."""
        if not token:
            return 0
        sequence = _token_sequence(token)
        position = read(self._engine, queries.change_position, sequence)
        if position is None:
            raise FailedPrecondition(
                "RESUME_TOKEN_UNKNOWN",
                f"this site's view holds no change with token {token}: watch from the start",
                resumeToken=token,
            )
        return position

    async def _follow(
        self, after: int, filters: queries.ChangeFilter
    ) -> AsyncIterator[api.WatchChangesResponse]:
        """The changes after ``after`` a page at a time, then each new page as it commits,
        until the client goes: one bounded read per page, or per poll when caught up."""
        last_sent = time.monotonic()
        while True:
            with read_session(self._engine) as session:
                # The newest first: no change matching the filters lies between ``after`` and
                # it if the page below is empty, so a keep-alive may resume from it.
                newest = queries.newest_change(session)
                page = queries.changes_after(session, after, filters, size=CHANGES_PER_MESSAGE)
            if page:
                after = page[-1].position
                last_sent = time.monotonic()
                yield api.WatchChangesResponse(
                    changes=[_change_to_proto(change) for change in page],
                    resume_token=str(page[-1].stream_sequence),
                )
                if len(page) == CHANGES_PER_MESSAGE:
                    continue  # more may be waiting: read on without pausing
            elif newest is not None and newest[0] > after:
                after = newest[0]  # nothing there for this client: skip it
            if time.monotonic() - last_sent >= self._keep_alive_s:
                last_sent = time.monotonic()
                yield api.WatchChangesResponse(
                    resume_token="" if newest is None else str(newest[1])
                )
            await asyncio.sleep(self._watch_poll_s)

    @rpc_method
    async def GetViewChecksum(
        self, request: api.GetViewChecksumRequest, context: grpc.aio.ServicerContext
    ) -> api.GetViewChecksumResponse:
        current_principal()

        def compute() -> api.GetViewChecksumResponse:
            with read_session(self._engine) as session:
                found = view_checksum(session)
            return api.GetViewChecksumResponse(
                sha256=found.sha256,
                tables=[
                    api.TableChecksum(table=table.table, rows=table.rows, sha256=table.sha256)
                    for table in found.tables
                ],
            )

        # Reads every replica row: off the event loop, so other calls are not held up.
        return await asyncio.to_thread(compute)

    @rpc_method
    async def ListMasterBatchRecords(
        self, request: api.ListMasterBatchRecordsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListMasterBatchRecordsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _position(request.page_token)
        if request.record_id:
            parse_name(f"masterBatchRecords/{request.record_id}/versions/latest", "record_id")
        bounds.text("site", request.site, bounds.ID_LEN)
        filters = queries.RecordFilter(site=request.site, record_id=request.record_id)
        with read_session(self._engine) as session:
            found = queries.page(session, filters, after=after, size=size + 1)
            page, token = page_of(
                found, size, lambda item: item[1].ByteSize(), lambda item: list(item[0])
            )
            effective = queries.effectivity(session, [record.name for _, record in page])
        return api.ListMasterBatchRecordsResponse(
            master_batch_records=[record for _, record in page], next_page_token=token,
            effectivity=[_effectivity_to_proto(held) for held in effective],
        )

    @rpc_method
    async def GetMasterBatchRecord(
        self, request: api.GetMasterBatchRecordRequest, context: grpc.aio.ServicerContext
    ) -> api.GetMasterBatchRecordResponse:
        current_principal()
        record_id, version = parse_name(request.name)
        with read_session(self._engine) as session:
            record = queries.get(session, record_id, version)
            effective = queries.effectivity(session, [record.name])
        return api.GetMasterBatchRecordResponse(
            master_batch_record=record,
            effectivity=[_effectivity_to_proto(held) for held in effective],
        )

    @rpc_method
    async def ListBatches(
        self, request: api.ListBatchesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListBatchesResponse:
        current_principal()
        size = page_size_of(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _batch_position(request.page_token)
        state = enum_filter("state", request.state, KNOWN_BATCH_STATES) or ""
        bounds.text("site", request.site, bounds.ID_LEN)
        filters = queries.BatchFilter(site=request.site, state=state)
        with read_session(self._engine) as session:
            found = queries.batch_page(session, filters, after=after, size=size + 1)
        return api.ListBatchesResponse(
            **_documents(found, size, batch_pb2.Batch, "batches"))

    @rpc_method
    async def GetBatch(
        self, request: api.GetBatchRequest, context: grpc.aio.ServicerContext
    ) -> api.GetBatchResponse:
        current_principal()
        batch_id = batch_id_of(request.name, "name")
        batch = read(self._engine, queries.get_batch, batch_id)
        return api.GetBatchResponse(batch=batch)

    @rpc_method
    async def ListBatchesConsumingLot(
        self, request: api.ListBatchesConsumingLotRequest, context: grpc.aio.ServicerContext
    ) -> api.ListBatchesConsumingLotResponse:
        current_principal()
        bounds.text("lot_id", request.lot_id, bounds.ID_LEN, required=True)
        size = page_size_of(
            request.page_size, default=DEFAULT_CONSUMPTION_PAGE_SIZE,
            maximum=MAX_CONSUMPTION_PAGE_SIZE,
        )
        after = _consumption_position(request.page_token, request.lot_id)
        with read_session(self._engine) as session:
            found = queries.lot_consumptions(session, request.lot_id, after=after, size=size + 1)
        page = page_of_messages(
            [_consumption_to_proto(consumption) for _, consumption in found[:size]], size
        )
        response = api.ListBatchesConsumingLotResponse(consumptions=page)
        if len(found) > len(page):
            response.next_page_token = encode_token([request.lot_id, *found[len(page) - 1][0]])
        return response

    @rpc_method
    async def ListWatermarks(
        self, request: api.ListWatermarksRequest, context: grpc.aio.ServicerContext
    ) -> api.ListWatermarksResponse:
        current_principal()
        with read_session(self._engine) as session:
            marks = queries.watermarks(session, self._registry.ids())
        now = self._clock()
        return api.ListWatermarksResponse(
            watermarks=[_watermark_to_proto(mark, now) for mark in marks]
        )

    @rpc_method
    async def ListRuns(
        self, request: api.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListRunsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _run_position(request.page_token)
        bounds.text("site", request.site, bounds.ID_LEN)
        batch_id = batch_id_of(request.batch, "batch") if request.batch else ""
        filters = queries.RunFilter(site=request.site, batch_id=batch_id)
        with read_session(self._engine) as session:
            found = queries.run_page(session, filters, after=after, size=size + 1)
        return api.ListRunsResponse(
            **_documents(found, size, run_pb2.Run, "runs"))

    @rpc_method
    async def GetRun(
        self, request: api.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> api.GetRunResponse:
        current_principal()
        run_id = run_id_of(request.name, "name")
        held = read(self._engine, queries.get_run, run_id)
        return api.GetRunResponse(
            run=held.run, home_site=held.home_site,
            latest_readings=[_latest_to_proto(reading) for reading in held.latest],
        )

    @rpc_method
    async def ListSamples(
        self, request: api.ListSamplesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListSamplesResponse:
        current_principal()
        size = page_size_of(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _release_testing_position(request.page_token)
        filters = _batch_scope(request.site, request.batch)
        with read_session(self._engine) as session:
            found = queries.sample_page(session, filters, after=after, size=size + 1)
        return api.ListSamplesResponse(
            **_documents(found, size, sample_pb2.Sample, "samples"))

    @rpc_method
    async def GetSample(
        self, request: api.GetSampleRequest, context: grpc.aio.ServicerContext
    ) -> api.GetSampleResponse:
        current_principal()
        sample_id = sample_id_of(request.name, "name")
        sample = read(self._engine, queries.get_sample, sample_id)
        return api.GetSampleResponse(sample=sample)

    @rpc_method
    async def ListInvestigations(
        self, request: api.ListInvestigationsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListInvestigationsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _release_testing_position(request.page_token)
        filters = _batch_scope(request.site, request.batch)
        with read_session(self._engine) as session:
            found = queries.investigation_page(session, filters, after=after, size=size + 1)
        return api.ListInvestigationsResponse(
            **_documents(found, size, investigation_pb2.Investigation, "investigations"))

    @rpc_method
    async def ListDispositions(
        self, request: api.ListDispositionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListDispositionsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _disposition_position(request.page_token)
        filters = _batch_scope(request.site, request.batch)
        with read_session(self._engine) as session:
            found = queries.disposition_page(session, filters, after=after, size=size + 1)
        return api.ListDispositionsResponse(
            **_documents(found, size, disposition_pb2.Disposition, "dispositions"))

    @rpc_method
    async def ListTransferPackages(
        self, request: api.ListTransferPackagesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListTransferPackagesResponse:
        current_principal()
        size = page_size_of(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _package_position(request.page_token)
        bounds.text("sending_site", request.sending_site, bounds.ID_LEN)
        bounds.text("receiving_site", request.receiving_site, bounds.ID_LEN)
        filters = queries.PackageFilter(
            sending_site=request.sending_site, receiving_site=request.receiving_site
        )
        with read_session(self._engine) as session:
            found = queries.package_page(session, filters, after=after, size=size + 1)
        return api.ListTransferPackagesResponse(
            **_documents(found, size, transfer_pb2.TransferPackage, "transfer_packages"))

    @rpc_method
    async def GetTransferPackage(
        self, request: api.GetTransferPackageRequest, context: grpc.aio.ServicerContext
    ) -> api.GetTransferPackageResponse:
        current_principal()
        package_id = package_id_of(request.name, "name")
        package = read(self._engine, queries.get_package, package_id)
        return api.GetTransferPackageResponse(transfer_package=package)
