"""Starts the batch records service of one site: ``python -m services.batch_records``."""

from __future__ import annotations

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
from services.batch_records.dispositions import DispositionConsumer
from services.batch_records.equipment.servicer import EquipmentServicer
from services.batch_records.master.servicer import MasterBatchRecordServicer
from services.batch_records.process_exceptions import ProcessExceptionConsumer
from services.batch_records.transfers import TransferConsumer
from services.common.grpc.server import Background, Kernel, run_service

SERVICE_NAME = "batch_records"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def register(server: grpc.aio.Server, kernel: Kernel) -> Sequence[str]:
    site = kernel.settings.home_site
    api_grpc.add_MasterBatchRecordServiceServicer_to_server(
        MasterBatchRecordServicer(
            writer=kernel.writer, engine=kernel.engine, directory=kernel.directory, site=site
        ),
        server,
    )
    batch_api_grpc.add_BatchRecordServiceServicer_to_server(
        BatchRecordServicer(
            writer=kernel.writer, engine=kernel.engine, directory=kernel.directory, site=site,
            witness=kernel.audit_witness(),
        ),
        server,
    )
    equipment_grpc.add_EquipmentServiceServicer_to_server(
        EquipmentServicer(writer=kernel.writer, engine=kernel.engine, site=site), server
    )
    return [
        api.DESCRIPTOR.services_by_name["MasterBatchRecordService"].full_name,
        batch_api.DESCRIPTOR.services_by_name["BatchRecordService"].full_name,
        equipment_api.DESCRIPTOR.services_by_name["EquipmentService"].full_name,
    ]


def background(kernel: Kernel) -> Sequence[Background]:
    """The consumers of other contexts' events about this site's records: the exceptions
    they raise, QA's dispositions, and the transfers this site's QA accepted."""
    site = kernel.settings.home_site
    return [
        ProcessExceptionConsumer(bus=kernel.bus, writer=kernel.writer, site=site),
        DispositionConsumer(bus=kernel.bus, writer=kernel.writer, site=site),
        TransferConsumer(bus=kernel.bus, writer=kernel.writer, site=site),
    ]


if __name__ == "__main__":
    run_service(SERVICE_NAME, [MIGRATIONS], register, background=background)
