"""Starts the site view of one site: ``python -m services.site_view``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import grpc
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.siteview.v1 import site_view_service_pb2_grpc as api_grpc

from services.common.grpc.server import (
    Kernel,
    ServiceHost,
    build_kernel,
    configure_logging,
    serve_until_signalled,
)
from services.common.settings import Settings
from services.site_view.events import SiteViewConsumer
from services.site_view.heartbeat import HeartbeatPublisher
from services.site_view.servicer import SiteViewServicer

SERVICE_NAME = "site_view"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def register(server: grpc.aio.Server, kernel: Kernel) -> Sequence[str]:
    api_grpc.add_SiteViewServiceServicer_to_server(
        SiteViewServicer(engine=kernel.engine, registry=kernel.settings.registry), server
    )
    return [api.DESCRIPTOR.services_by_name["SiteViewService"].full_name]


def build_host(settings: Settings) -> ServiceHost:
    kernel = build_kernel(settings, SERVICE_NAME, [MIGRATIONS], watch_sources=True)
    host = ServiceHost(kernel)
    consumer = SiteViewConsumer(bus=kernel.bus, writer=kernel.writer, site=settings.home_site)
    host.add_background(consumer.start, consumer.stop)
    heartbeat = HeartbeatPublisher(
        bus=kernel.bus, site=settings.home_site,
        interval=timedelta(seconds=settings.heartbeat_seconds),
    )
    host.add_background(heartbeat.start, heartbeat.stop)
    return host


def main() -> None:
    configure_logging()
    settings = Settings()
    asyncio.run(serve_until_signalled(build_host(settings), register))


if __name__ == "__main__":
    main()
