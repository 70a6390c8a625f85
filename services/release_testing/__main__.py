"""Starts the release testing service of one site: ``python -m services.release_testing``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import release_testing_service_pb2_grpc as api_grpc

from services.common.grpc.server import Background, Kernel, run_service
from services.release_testing.dispositions.servicer import DispositionServicer
from services.release_testing.investigations.servicer import InvestigationServicer
from services.release_testing.projection.consumer import ProjectionConsumer
from services.release_testing.samples.servicer import SampleServicer
from services.release_testing.specifications.servicer import SpecificationServicer

SERVICE_NAME = "release_testing"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def register(server: grpc.aio.Server, kernel: Kernel) -> Sequence[str]:
    parts = (kernel.writer, kernel.engine, kernel.directory, kernel.settings.home_site)
    writer, engine, directory, site = parts
    api_grpc.add_SpecificationServiceServicer_to_server(SpecificationServicer(
        writer=writer, engine=engine, directory=directory, site=site), server)
    api_grpc.add_SampleServiceServicer_to_server(SampleServicer(
        writer=writer, engine=engine, directory=directory, site=site), server)
    api_grpc.add_InvestigationServiceServicer_to_server(InvestigationServicer(
        writer=writer, engine=engine, directory=directory, site=site), server)
    api_grpc.add_DispositionServiceServicer_to_server(DispositionServicer(
        writer=writer, engine=engine, directory=directory, site=site), server)
    return [api.DESCRIPTOR.services_by_name[name].full_name for name in (
        "SpecificationService", "SampleService", "InvestigationService", "DispositionService")]


def background(kernel: Kernel) -> Sequence[Background]:
    """The projection of every site's batches, specifications and samples."""
    return [
        ProjectionConsumer(bus=kernel.bus, writer=kernel.writer, site=kernel.settings.home_site)
    ]


if __name__ == "__main__":
    run_service(SERVICE_NAME, [MIGRATIONS], register, background=background)
