"""EquipmentService: translates requests to use cases and results to responses."""

from __future__ import annotations

import grpc
from sqlalchemy import Engine
from twinline.batchrecords.v1 import equipment_service_pb2 as api
from twinline.batchrecords.v1 import equipment_service_pb2_grpc as api_grpc

from services.batch_records.equipment import handlers
from services.batch_records.equipment.domain import EQUIPMENT_ROLES
from services.batch_records.equipment.translate import equipment_from_proto, equipment_to_proto
from services.common.grpc.auth import current_principal, site_writer
from services.common.grpc.paging import (
    decode_position,
    encode_token,
    page_of_messages,
    page_size_of,
)
from services.common.grpc.rpc import mutate, rpc_method
from services.common.persistence.database import read_session
from services.common.persistence.writer import Writer
from services.common.sites import Site


class EquipmentServicer(api_grpc.EquipmentServiceServicer):
    def __init__(self, *, writer: Writer, engine: Engine, site: Site) -> None:
        self._writer = writer
        self._engine = engine
        self._site = site

    @rpc_method
    async def SetEquipment(
        self, request: api.SetEquipmentRequest, context: grpc.aio.ServicerContext
    ) -> api.SetEquipmentResponse:
        principal = site_writer(self._site.id, *EQUIPMENT_ROLES)
        entry = equipment_from_proto(request.equipment)
        return await mutate(
            self._writer, request=request, response_type=api.SetEquipmentResponse,
            command=lambda uow: api.SetEquipmentResponse(
                equipment=equipment_to_proto(
                    handlers.set_equipment(uow, principal=principal, entry=entry)
                )
            ),
        )

    @rpc_method
    async def ListEquipment(
        self, request: api.ListEquipmentRequest, context: grpc.aio.ServicerContext
    ) -> api.ListEquipmentResponse:
        current_principal()
        size = page_size_of(request.page_size, default=500, maximum=1000)
        after = decode_position(request.page_token, str)
        with read_session(self._engine) as session:
            entries = handlers.list_equipment(
                session, after=None if after is None else after[0], size=size + 1
            )
        page = page_of_messages([equipment_to_proto(entry) for entry in entries[:size]], size)
        response = api.ListEquipmentResponse(equipment=page)
        if len(entries) > len(page):
            response.next_page_token = encode_token([page[-1].equipment_id])
        return response
