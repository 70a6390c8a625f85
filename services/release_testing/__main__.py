"""Starts the release testing service of one site: ``python -m services.release_testing``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import release_testing_service_pb2_grpc as api_grpc

from services.common.grpc.server import Kernel, run_service
from services.release_testing.specifications.servicer import SpecificationServicer

SERVICE_NAME = "release_testing"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def register(server: grpc.aio.Server, kernel: Kernel) -> Sequence[str]:
    api_grpc.add_SpecificationServiceServicer_to_server(SpecificationServicer(
        writer=kernel.writer, engine=kernel.engine, directory=kernel.directory,
        site=kernel.settings.home_site,
    ), server)
    return [api.DESCRIPTOR.services_by_name["SpecificationService"].full_name]


if __name__ == "__main__":
    run_service(SERVICE_NAME, [MIGRATIONS], register)
