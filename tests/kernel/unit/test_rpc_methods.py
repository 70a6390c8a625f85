"""The gRPC method a mutation's request belongs to: the idempotency key of every stored answer."""

from __future__ import annotations

import pytest
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.batchrecords.v1 import equipment_service_pb2 as equipment_api
from twinline.batchrecords.v1 import master_batch_record_pb2
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as mbr_api

from services.common.grpc.rpc import method_of


@pytest.mark.parametrize(
    ("request_type", "method"),
    [
        (mbr_api.CreateMasterBatchRecordRequest,
         "/twinline.batchrecords.v1.MasterBatchRecordService/CreateMasterBatchRecord"),
        (batch_api.RecordStepRequest, "/twinline.batchrecords.v1.BatchRecordService/RecordStep"),
        (batch_api.RecordStepsRequest,
         "/twinline.batchrecords.v1.BatchRecordService/RecordSteps"),
        (equipment_api.SetEquipmentRequest,
         "/twinline.batchrecords.v1.EquipmentService/SetEquipment"),
    ],
)
def test_a_request_names_its_rpc_as_the_stored_answers_do(request_type, method) -> None:  # type: ignore[no-untyped-def]
    assert method_of(request_type.DESCRIPTOR) == method


def test_a_message_that_is_no_rpc_request_is_refused() -> None:
    with pytest.raises(LookupError):
        method_of(master_batch_record_pb2.MasterBatchRecord.DESCRIPTOR)
