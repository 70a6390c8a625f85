"""OutboxService: the backlog of the outbox of the service that mounts it, and whether its
relay is stalled. Auth as the audit RPCs: any authenticated user may read it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
from sqlalchemy import Engine
from twinline.common.v1 import outbox_pb2, outbox_pb2_grpc

from services.common.domain.clock import Clock, utc_now
from services.common.grpc.auth import current_principal
from services.common.grpc.rpc import rpc_method
from services.common.persistence.outbox import OutboxRelay, backlog


class OutboxServicer(outbox_pb2_grpc.OutboxServiceServicer):
    def __init__(
        self, *, engine: Engine, relay: OutboxRelay, site: str, service: str,
        stall_seconds: float, clock: Clock = utc_now,
    ) -> None:
        self._engine = engine
        self._relay = relay
        self._site = site
        self._service = service
        self._stall_seconds = stall_seconds
        self._clock = clock

    @rpc_method
    async def GetOutboxStatus(
        self, request: outbox_pb2.GetOutboxStatusRequest, context: grpc.aio.ServicerContext
    ) -> outbox_pb2.GetOutboxStatusResponse:
        current_principal()
        waiting = await asyncio.to_thread(backlog, self._engine)
        stall = self._relay.stall()
        response = outbox_pb2.GetOutboxStatusResponse(
            site=self._site, service=self._service, unpublished_count=waiting.unpublished,
            stalled=stall.stalled(self._stall_seconds), last_error=stall.last_error,
        )
        response.stall_threshold.FromTimedelta(timedelta(seconds=self._stall_seconds))
        if waiting.oldest_created is not None:
            response.oldest_unpublished_create_time.FromDatetime(waiting.oldest_created)
            age = max(self._clock() - waiting.oldest_created, timedelta(0))
            response.oldest_unpublished_age.FromTimedelta(age)
        if stall.trying_seconds > 0:
            response.head_retry_duration.FromTimedelta(timedelta(seconds=stall.trying_seconds))
        return response
