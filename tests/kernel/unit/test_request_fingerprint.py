"""What makes two requests "the same" for idempotency: their content, never a password."""

from __future__ import annotations

from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.common.v1 import signature_pb2

from services.common.persistence.idempotency import request_fingerprint
from tests.support.mbr import conjugation_recipe

RECORD = "/twinline.batchrecords.v1.BatchRecordService/RecordStep"
CREATE = "/twinline.batchrecords.v1.MasterBatchRecordService/CreateMasterBatchRecord"


def record(password: str, reason: str = "") -> batch_api.RecordStepRequest:
    return batch_api.RecordStepRequest(
        request_id="r-1", batch="batches/SYR-B-2026-00001",
        signature=signature_pb2.SignatureInput(password=password, reason=reason),
    )


def test_the_signature_password_is_not_part_of_it_and_stays_in_the_request() -> None:
    request = record("first password")
    fingerprint = request_fingerprint(RECORD, request)
    assert fingerprint == request_fingerprint(RECORD, record("another password"))
    assert fingerprint == request_fingerprint(RECORD, record(""))
    assert request.signature.password == "first password"  # scrubbed on a copy only


def test_any_other_difference_changes_it() -> None:
    assert request_fingerprint(RECORD, record("p")) != request_fingerprint(
        RECORD, record("p", reason="late entry")
    )
    assert request_fingerprint(RECORD, record("p")) != request_fingerprint(
        CREATE, record("p")
    )
    recipe = conjugation_recipe()
    create = api.CreateMasterBatchRecordRequest(request_id="r-2", master_batch_record=recipe)
    changed = api.CreateMasterBatchRecordRequest()
    changed.CopyFrom(create)
    changed.master_batch_record.product = "another product"
    assert request_fingerprint(CREATE, create) != request_fingerprint(CREATE, changed)
