"""A bare grpc.aio unary echo server, started like a service (``python -m bench.echo_server``,
port from ``TWINLINE_GRPC_PORT``, health service, graceful stop on SIGTERM): the yardstick that
the service's throughput is divided by. No interceptor, no (de)serialisation: bytes in, bytes out.
"""

from __future__ import annotations

import asyncio
import signal

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common.settings import Settings

SERVICE_NAME = "twinline.bench.v1.EchoService"
ECHO_METHOD = f"/{SERVICE_NAME}/Echo"
GRACE_SECONDS = 2.0


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


def echo_handler() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE_NAME, {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((echo_handler(),))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    print(f"READY echo port={port}", flush=True)
    await stop.wait()
    await server.stop(GRACE_SECONDS)


def main() -> None:
    asyncio.run(serve(Settings()))


if __name__ == "__main__":
    main()
