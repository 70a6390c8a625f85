"""BatchML over gRPC: export a master record, import it as a new draft, refuse a bad document."""

from __future__ import annotations

import grpc
import pytest
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)

from services.common.errors import details_of
from tests.support.mbr import create, request_id
from tests.support.stack import Stack


async def test_export_import_and_a_refused_document(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    qa = await stack.login("syracuse", "qa")
    stub = author.stub(MasterBatchRecordServiceStub)
    original = await create(author)

    exported = await qa.stub(MasterBatchRecordServiceStub).ExportMasterRecipe(
        api.ExportMasterRecipeRequest(name=original.name), metadata=qa.metadata
    )
    assert exported.content_type == "application/xml"
    assert b"<MasterRecipe" in exported.document

    request = api.ImportMasterRecipeRequest(request_id=request_id(), document=exported.document)
    answer = await stub.ImportMasterRecipe(request, metadata=author.metadata)
    imported = answer.master_batch_record
    assert imported.name != original.name
    assert (imported.state, imported.version) == (pb.MASTER_BATCH_RECORD_STATE_DRAFT, 1)
    assert (imported.product, imported.process, imported.title) == (
        original.product, original.process, original.title
    )
    assert list(imported.unit_procedures) == list(original.unit_procedures)
    assert await stub.ImportMasterRecipe(request, metadata=author.metadata) == answer

    latest = await stub.ExportMasterRecipe(
        api.ExportMasterRecipeRequest(
            name=f"masterBatchRecords/{imported.record_id}/versions/latest"
        ),
        metadata=author.metadata,
    )
    assert f"<ID>{imported.record_id}</ID>".encode() in latest.document

    with pytest.raises(grpc.aio.AioRpcError) as not_author:
        await qa.stub(MasterBatchRecordServiceStub).ImportMasterRecipe(
            api.ImportMasterRecipeRequest(request_id=request_id(), document=exported.document),
            metadata=qa.metadata,
        )
    assert not_author.value.code() == grpc.StatusCode.PERMISSION_DENIED

    broken = exported.document.replace(b"<Header>", b"<Header><Batch/>", 1)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ImportMasterRecipe(
            api.ImportMasterRecipeRequest(request_id=request_id(), document=broken),
            metadata=author.metadata,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details_of(refused.value)["fields"] == ["document"]
    assert "line 7: element 'Batch' is not expected in 'Header'" in (refused.value.details() or "")
