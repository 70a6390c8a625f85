"""A full transfer Syracuse → Songdo on real servers and NATS: sent, acknowledged by Songdo's
service on arrival, reviewed, returned with comments and revised, then accepted by Songdo's
QA, after which Songdo's batch_records lets a batch follow the transferred version, and not
before. No step of the receiving site can be taken by the sending site. Both sites' views end
with the package accepted and the version effective at both sites."""

from __future__ import annotations

import grpc
import pytest
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.siteview.v1 import site_view_service_pb2 as view_api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as api
from twinline.techtransfer.v1 import transfer_pb2 as pb
from twinline.techtransfer.v1.tech_transfer_service_pb2_grpc import TechTransferServiceStub

from services.client.session import Session, with_token
from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW, TECH_TRANSFER
from tests.support import batches, transfers
from tests.support.batches import q
from tests.support.mbr import request_id, sign
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(420)
stack = stack_fixture(services=[BATCH_RECORDS.name, TECH_TRANSFER.name, SITE_VIEW.name])
SENDER, RECEIVER = "syracuse", "songdo"
DEADLINE_S = 90


async def refusal(call: object) -> tuple[grpc.StatusCode, object]:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return refused.value.code(), details_of(refused.value)["reason"]


async def state_at(session: Session, name: str, state: int,
                   revision: int = 1) -> pb.TransferPackage:
    async def reached() -> pb.TransferPackage | None:
        package = await transfers.get(session, name)
        return package if (package.state, package.revision) == (state, revision) else None

    found: pb.TransferPackage = await wait_until(
        reached, DEADLINE_S, interval=0.2, ignore=(grpc.aio.AioRpcError,),
        message=f"{name} {pb.TransferState.Name(state)} rev {revision}")  # type: ignore[arg-type]
    return found


def receiving_steps(stub: TechTransferServiceStub, package: pb.TransferPackage,
                    metadata: object) -> list[object]:
    etag = package.receipt.etag
    return [
        stub.StartTransferReview(api.StartTransferReviewRequest(
            request_id=request_id(), name=package.name, etag=etag), metadata=metadata),
        stub.AcceptTransferPackage(api.AcceptTransferPackageRequest(
            request_id=request_id(), name=package.name, etag=etag, signature=sign("qa")),
            metadata=metadata),
        stub.ReturnTransferPackage(api.ReturnTransferPackageRequest(
            request_id=request_id(), name=package.name, etag=etag, comments="no",
            signature=sign("qa", "no")), metadata=metadata),
    ]


async def test_a_transfer_is_sent_returned_revised_and_accepted_by_the_receiving_site_only(
    stack: Stack,
) -> None:
    master = await batches.effective_master(stack, SENDER)
    songdo_mes = await stack.login(RECEIVER, "mes")
    code, _ = await refusal(batches.create_batch(songdo_mes, master))
    assert code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)

    author = await stack.login(SENDER, "author", TECH_TRANSFER.name)

    async def drafted() -> pb.TransferPackage | None:
        try:
            answer = await transfers.stub(author).CreateTransferPackage(
                api.CreateTransferPackageRequest(request_id=request_id(),
                                                 package=transfers.content(master, RECEIVER)),
                metadata=author.metadata)
        except grpc.aio.AioRpcError as error:
            if details_of(error)["reason"] == "MASTER_RECORD_NOT_EFFECTIVE_HERE":
                return None  # the record's "made_effective" event is on its way
            raise
        return answer.package

    draft = await wait_until(drafted, DEADLINE_S, interval=0.2)
    assert (draft.name, draft.state, draft.master_batch_record.name) == (
        "transferPackages/SYR-TP-000001", pb.TRANSFER_STATE_DRAFT, master)
    syracuse_qa = await stack.login(SENDER, "qa", TECH_TRANSFER.name)
    sent = (await transfers.stub(syracuse_qa).SendTransferPackage(api.SendTransferPackageRequest(
        request_id=request_id(), name=draft.name, etag=draft.etag, signature=sign("qa")),
        metadata=syracuse_qa.metadata)).package
    assert sent.state == pb.TRANSFER_STATE_SENT

    songdo_qa = await stack.login(RECEIVER, "qa", TECH_TRANSFER.name)
    received = await state_at(songdo_qa, draft.name, pb.TRANSFER_STATE_RECEIVED)
    assert received.receipt.state == pb.RECEIPT_STATE_RECEIVED  # acknowledged by the service

    # The sending site takes no receiving step: not at its own service, not at Songdo's.
    here = transfers.stub(syracuse_qa)
    for call in receiving_steps(here, received, syracuse_qa.metadata):
        assert await refusal(call) == (grpc.StatusCode.FAILED_PRECONDITION,
                                       "NOT_RECEIVING_SITE")
    channel = grpc.aio.insecure_channel(stack.address(RECEIVER, TECH_TRANSFER.name))
    try:
        there = TechTransferServiceStub(channel)
        for call in receiving_steps(there, received, with_token(syracuse_qa.token)):
            code, _ = await refusal(call)
            assert code == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await channel.close()

    songdo = transfers.stub(songdo_qa)
    reviewing = (await songdo.StartTransferReview(api.StartTransferReviewRequest(
        request_id=request_id(), name=draft.name, etag=received.receipt.etag),
        metadata=songdo_qa.metadata)).package
    returned = (await songdo.ReturnTransferPackage(api.ReturnTransferPackageRequest(
        request_id=request_id(), name=draft.name, etag=reviewing.receipt.etag,
        comments="Add the DMSO water limit", signature=sign("qa", "incomplete")),
        metadata=songdo_qa.metadata)).package
    assert returned.state == pb.TRANSFER_STATE_RETURNED

    back = await state_at(author, draft.name, pb.TRANSFER_STATE_RETURNED)
    assert back.receipt.comments == "Add the DMSO water limit"
    revised = transfers.content(master, RECEIVER, notes="DMSO water ≤ 0.05 % added")
    revised.name, revised.etag = back.name, back.etag
    revision = (await transfers.stub(author).ReviseTransferPackage(
        api.ReviseTransferPackageRequest(request_id=request_id(), package=revised),
        metadata=author.metadata)).package
    assert (revision.revision, revision.state) == (2, pb.TRANSFER_STATE_DRAFT)
    await transfers.stub(syracuse_qa).SendTransferPackage(api.SendTransferPackageRequest(
        request_id=request_id(), name=draft.name, etag=revision.etag, signature=sign("qa")),
        metadata=syracuse_qa.metadata)

    again = await state_at(songdo_qa, draft.name, pb.TRANSFER_STATE_RECEIVED, revision=2)
    assert again.notes == "DMSO water ≤ 0.05 % added"
    reviewing = (await songdo.StartTransferReview(api.StartTransferReviewRequest(
        request_id=request_id(), name=draft.name, etag=again.receipt.etag),
        metadata=songdo_qa.metadata)).package
    accepted = (await songdo.AcceptTransferPackage(api.AcceptTransferPackageRequest(
        request_id=request_id(), name=draft.name, etag=reviewing.receipt.etag,
        signature=sign("qa")), metadata=songdo_qa.metadata)).package
    assert accepted.state == pb.TRANSFER_STATE_ACCEPTED
    assert [s.signer for s in accepted.receipt.signatures] == ["songdo.qa"]

    async def songdo_batch() -> object:
        try:
            answer = await batches.stub(songdo_mes).CreateBatch(batch_api.CreateBatchRequest(
                request_id=request_id(), master_batch_record=master,
                planned_quantity=q("200", "L")), metadata=songdo_mes.metadata)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                return None  # the acceptance is on its way to Songdo's batch_records
            raise
        return answer.batch

    # What Songdo runs of the product (nothing yet) against what it received: all added.
    diffed = await songdo.GetRecipeDiff(api.GetRecipeDiffRequest(package=draft.name),
                                        metadata=songdo_qa.metadata)
    assert (diffed.before, diffed.after) == ("", master)
    added = [c.path for c in diffed.changes
             if c.kind == api.RECIPE_CHANGE_KIND_UNIT_PROCEDURE_ADDED]
    assert added == [up.id for up in accepted.master_batch_record.unit_procedures]

    batch = await wait_until(songdo_batch, DEADLINE_S, interval=0.2)
    assert batch.batch_id.startswith("SDO-B-") and batch.control_recipe.name == master  # type: ignore[attr-defined]
    await state_at(author, draft.name, pb.TRANSFER_STATE_ACCEPTED, revision=2)

    for site in (SENDER, RECEIVER):
        reader = await stack.login(site, "qa", SITE_VIEW.name)
        viewed = reader.stub(SiteViewServiceStub)

        async def seen(viewed: SiteViewServiceStub = viewed,
                       reader: Session = reader) -> tuple[object, ...] | None:
            package = (await viewed.GetTransferPackage(view_api.GetTransferPackageRequest(
                name=draft.name), metadata=reader.metadata)).transfer_package
            record = await viewed.GetMasterBatchRecord(view_api.GetMasterBatchRecordRequest(
                name=master), metadata=reader.metadata)
            found = (package.state, package.revision, package.notes,
                     [(e.site, e.package) for e in record.effectivity])
            return found if found[0] == pb.TRANSFER_STATE_ACCEPTED and len(found[3]) == 2 \
                else None

        assert await wait_until(seen, DEADLINE_S, interval=0.2,
                                ignore=(grpc.aio.AioRpcError,)) == (
            pb.TRANSFER_STATE_ACCEPTED, 2, "DMSO water ≤ 0.05 % added",
            [(RECEIVER, draft.name), (SENDER, "")])
