"""A bare grpc.aio readings sink, started like a service (``python -m bench.readings_sink``, port
from ``TWINLINE_GRPC_PORT``, health service, graceful stop on SIGTERM): the yardstick that the
conjugation service's ingest rate is divided by. It serves ProcessReadingsService.StreamReadings
only, with no interceptor, no authentication and no storage: it parses each message, counts its
points and, at the end of the call, answers them all received and stored (so the load client's
check of the answer is the same against either server).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from twinline.conjugation.v1 import readings_pb2 as api

from bench.echo_server import GRACE_SECONDS
from services.common.settings import Settings

SERVICE_NAME = "twinline.conjugation.v1.ProcessReadingsService"


async def stream_readings(
    messages: AsyncIterator[api.StreamReadingsRequest], context: grpc.aio.ServicerContext
) -> api.StreamReadingsResponse:
    points = 0
    async for message in messages:
        points += len(message.points)
    return api.StreamReadingsResponse(received=points, stored=points)


def sink_handler() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(SERVICE_NAME, {
        "StreamReadings": grpc.stream_unary_rpc_method_handler(
            stream_readings,
            request_deserializer=api.StreamReadingsRequest.FromString,
            response_serializer=api.StreamReadingsResponse.SerializeToString,
        ),
    })


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((sink_handler(),))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    print(f"READY readings-sink port={port}", flush=True)
    await stop.wait()
    await server.stop(GRACE_SECONDS)


def main() -> None:
    asyncio.run(serve(Settings()))


if __name__ == "__main__":
    main()
