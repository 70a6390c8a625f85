"""SiteViewService: translates requests to queries of the view and rows to responses."""

from __future__ import annotations

from datetime import datetime

import grpc
from google.protobuf import duration_pb2, timestamp_pb2
from sqlalchemy import Engine
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.siteview.v1 import site_view_service_pb2_grpc as api_grpc

from services.batch_records.servicer import parse_name
from services.common.auth import current_principal
from services.common.clock import Clock, utc_now
from services.common.database import read_session
from services.common.errors import FieldViolation, InvalidArgument
from services.common.paging import decode_token, encode_token, page_size_of
from services.common.rpc import rpc_method
from services.common.sites import SiteRegistry
from services.site_view import domain, queries

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def _position(token: str) -> queries.Position | None:
    if not token:
        return None
    position = decode_token(token)
    if (
        isinstance(position, list) and len(position) == 3
        and isinstance(position[0], str) and isinstance(position[1], str)
        and isinstance(position[2], int)
    ):
        return position[0], position[1], position[2]
    raise InvalidArgument([FieldViolation("page_token", "is not a token from a previous response")])


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
    return message


class SiteViewServicer(api_grpc.SiteViewServiceServicer):
    """Read-only: any authenticated user of any site may read the view."""

    def __init__(
        self, *, engine: Engine, registry: SiteRegistry, clock: Clock = utc_now
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._clock = clock

    @rpc_method
    async def ListMasterBatchRecords(
        self, request: api.ListMasterBatchRecordsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListMasterBatchRecordsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _position(request.page_token)
        if request.record_id:
            parse_name(f"masterBatchRecords/{request.record_id}/versions/latest", "record_id")
        filters = queries.RecordFilter(site=request.site, record_id=request.record_id)
        with read_session(self._engine) as session:
            found = queries.page(session, filters, after=after, size=size + 1)
        response = api.ListMasterBatchRecordsResponse(
            master_batch_records=[record for _, record in found[:size]]
        )
        if len(found) > size:
            response.next_page_token = encode_token(list(found[size - 1][0]))
        return response

    @rpc_method
    async def GetMasterBatchRecord(
        self, request: api.GetMasterBatchRecordRequest, context: grpc.aio.ServicerContext
    ) -> api.GetMasterBatchRecordResponse:
        current_principal()
        record_id, version = parse_name(request.name)
        with read_session(self._engine) as session:
            record = queries.get(session, record_id, version)
        return api.GetMasterBatchRecordResponse(master_batch_record=record)

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
