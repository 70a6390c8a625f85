"""Starts the site view of one site: ``python -m services.site_view``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import grpc
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.siteview.v1 import site_view_service_pb2_grpc as api_grpc

from services.common.grpc.server import Background, Kernel, run_service
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


def background(kernel: Kernel) -> Sequence[Background]:
    """The consumer of every site's events, and this site's heartbeat."""
    site = kernel.settings.home_site
    return [
        SiteViewConsumer(bus=kernel.bus, writer=kernel.writer, site=site),
        HeartbeatPublisher(
            bus=kernel.bus, site=site,
            interval=timedelta(seconds=kernel.settings.heartbeat_seconds),
        ),
    ]


if __name__ == "__main__":
    # The site view is the process of its site that keeps the cross-site sources applied.
    run_service(SERVICE_NAME, [MIGRATIONS], register, watch_sources=True, background=background)
