"""An enum number this release does not know, in any list filter, is refused naming the field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as mbr_api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.siteview.v1 import site_view_service_pb2 as view_api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW
from tests.support import batches
from tests.support.stack import Stack, stack_fixture

# Batch records and the site view are all these tests use.
stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name])

UNKNOWN = 42


async def test_an_unknown_state_filter_is_refused_by_every_list(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    operator = await stack.login("syracuse", "operator")
    viewer = await stack.login("syracuse", "qa", service=SITE_VIEW.name)

    lists: dict[str, Callable[[int], Awaitable[Any]]] = {
        "BatchRecordService.ListBatches": lambda state: batches.stub(operator).ListBatches(
            batch_api.ListBatchesRequest(state=state), metadata=operator.metadata  # type: ignore[arg-type]
        ),
        "MasterBatchRecordService.ListMasterBatchRecords": lambda state: author.stub(
            MasterBatchRecordServiceStub
        ).ListMasterBatchRecords(
            mbr_api.ListMasterBatchRecordsRequest(state=state),  # type: ignore[arg-type]
            metadata=author.metadata,
        ),
        "SiteViewService.ListBatches": lambda state: viewer.stub(SiteViewServiceStub).ListBatches(
            view_api.ListBatchesRequest(state=state), metadata=viewer.metadata  # type: ignore[arg-type]
        ),
    }
    for rpc, call in lists.items():
        await call(0)  # unset: no filter
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(UNKNOWN)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, rpc
        assert details_of(refused.value)["fields"] == ["state"], rpc
