"""BatchML over gRPC: export a master record, import it as a new draft, refuse a bad document."""

from __future__ import annotations

import grpc
import pytest
import xmlschema
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)

from services.batch_records.batchml.schema import SCHEMA_FILE
from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS
from tests.support.batchml_documents import parallel_recipe
from tests.support.mbr import create, request_id
from tests.support.stack import Stack, stack_fixture

# Only batch_records runs at each site: nothing here reads a site view.
batch_records_only = stack_fixture(services=[BATCH_RECORDS.name])


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


async def test_a_parallel_split_and_join_imports_in_order_with_its_losses_as_warnings(
    stack: Stack,
) -> None:
    author = await stack.login("syracuse", "author")
    stub = author.stub(MasterBatchRecordServiceStub)
    document = parallel_recipe(extras=True)
    assert list(xmlschema.XMLSchema(str(SCHEMA_FILE)).iter_errors(document)) == []

    answer = await stub.ImportMasterRecipe(
        api.ImportMasterRecipeRequest(request_id=request_id(), document=document),
        metadata=author.metadata,
    )

    operations = answer.master_batch_record.unit_procedures[0].operations
    assert [operation.id for operation in operations] == ["OP1", "OP2", "OP3", "OP4"]
    warnings = "\n".join(answer.warnings)
    assert "'S2' and 'S3' of 'UP' are on parallel branches" in warnings
    assert "Parameter 'Buffer salt' of Phase 'PH1' is ProcessInput" in warnings
    assert "Phase 'PH5' is run by no procedure-logic step: not imported" in warnings
    assert len(answer.warnings) == 3

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ImportMasterRecipe(
            api.ImportMasterRecipeRequest(
                request_id=request_id(), document=parallel_recipe(unit="RPM")
            ),
            metadata=author.metadata,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "document.unit_procedures[0].operations[0].steps[0].parameters[0].unit" in (
        details_of(refused.value)["fields"]
    )
