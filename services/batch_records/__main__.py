"""Starts the batch records service of one site: ``python -m services.batch_records``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import grpc
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.batchrecords.v1 import batch_service_pb2_grpc as batch_api_grpc
from twinline.batchrecords.v1 import equipment_service_pb2 as equipment_api
from twinline.batchrecords.v1 import equipment_service_pb2_grpc as equipment_grpc
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1 import master_batch_record_service_pb2_grpc as api_grpc

from services.batch_records.batches.servicer import BatchRecordServicer
from services.batch_records.equipment.servicer import EquipmentServicer
from services.batch_records.master.servicer import MasterBatchRecordServicer
from services.common.grpc.server import (
    Kernel,
    ServiceHost,
    build_kernel,
    configure_logging,
    serve_until_signalled,
)
from services.common.settings import Settings

SERVICE_NAME = "batch_records"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def register(server: grpc.aio.Server, kernel: Kernel) -> Sequence[str]:
    api_grpc.add_MasterBatchRecordServiceServicer_to_server(
        MasterBatchRecordServicer(
            writer=kernel.writer, engine=kernel.engine, directory=kernel.directory,
            site=kernel.settings.home_site,
        ),
        server,
    )
    batch_api_grpc.add_BatchRecordServiceServicer_to_server(
        BatchRecordServicer(
            writer=kernel.writer, engine=kernel.engine, directory=kernel.directory,
            site=kernel.settings.home_site,
        ),
        server,
    )
    equipment_grpc.add_EquipmentServiceServicer_to_server(
        EquipmentServicer(
            writer=kernel.writer, engine=kernel.engine, site=kernel.settings.home_site
        ),
        server,
    )
    return [
        api.DESCRIPTOR.services_by_name["MasterBatchRecordService"].full_name,
        batch_api.DESCRIPTOR.services_by_name["BatchRecordService"].full_name,
        equipment_api.DESCRIPTOR.services_by_name["EquipmentService"].full_name,
    ]


def build_host(settings: Settings) -> ServiceHost:
    return ServiceHost(build_kernel(settings, SERVICE_NAME, [MIGRATIONS]))


def main() -> None:
    configure_logging()
    asyncio.run(serve_until_signalled(build_host(Settings()), register))


if __name__ == "__main__":
    main()
