"""Starts the tech transfer service of one site: ``python -m services.tech_transfer``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as api
from twinline.techtransfer.v1 import tech_transfer_service_pb2_grpc as api_grpc

from services.common.grpc.server import Background, Kernel, run_service
from services.tech_transfer.packages.servicer import TechTransferServicer
from services.tech_transfer.projection.consumer import ProjectionConsumer

SERVICE_NAME = "tech_transfer"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def register(server: grpc.aio.Server, kernel: Kernel) -> Sequence[str]:
    api_grpc.add_TechTransferServiceServicer_to_server(TechTransferServicer(
        writer=kernel.writer, engine=kernel.engine, directory=kernel.directory,
        site=kernel.settings.home_site, registry=kernel.settings.registry), server)
    return [api.DESCRIPTOR.services_by_name["TechTransferService"].full_name]


def background(kernel: Kernel) -> Sequence[Background]:
    """The projection of this site's master records and every site's packages."""
    return [
        ProjectionConsumer(bus=kernel.bus, writer=kernel.writer, site=kernel.settings.home_site)
    ]


if __name__ == "__main__":
    run_service(SERVICE_NAME, [MIGRATIONS], register, background=background)
