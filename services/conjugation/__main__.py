"""Starts the conjugation service of one site: ``python -m services.conjugation``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
from twinline.conjugation.v1 import readings_pb2 as readings_api
from twinline.conjugation.v1 import readings_pb2_grpc as readings_grpc
from twinline.conjugation.v1 import run_service_pb2 as run_api
from twinline.conjugation.v1 import run_service_pb2_grpc as run_grpc

from services.common.grpc.server import Background, Kernel, run_service
from services.conjugation.projection.consumer import ProjectionConsumer
from services.conjugation.readings.servicer import ProcessReadingsServicer
from services.conjugation.runs.servicer import ConjugationRunServicer

SERVICE_NAME = "conjugation"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def register(server: grpc.aio.Server, kernel: Kernel) -> Sequence[str]:
    site = kernel.settings.home_site
    run_grpc.add_ConjugationRunServiceServicer_to_server(
        ConjugationRunServicer(
            writer=kernel.writer, engine=kernel.engine, directory=kernel.directory, site=site
        ),
        server,
    )
    readings_grpc.add_ProcessReadingsServiceServicer_to_server(
        ProcessReadingsServicer(
            writer=kernel.writer, engine=kernel.engine, directory=kernel.directory, site=site
        ),
        server,
    )
    return [
        run_api.DESCRIPTOR.services_by_name["ConjugationRunService"].full_name,
        readings_api.DESCRIPTOR.services_by_name["ProcessReadingsService"].full_name,
    ]


def background(kernel: Kernel) -> Sequence[Background]:
    """The projection of this site's batches and every site's results."""
    return [
        ProjectionConsumer(bus=kernel.bus, writer=kernel.writer, site=kernel.settings.home_site)
    ]


if __name__ == "__main__":
    run_service(SERVICE_NAME, [MIGRATIONS], register, background=background)
