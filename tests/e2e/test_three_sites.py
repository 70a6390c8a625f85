"""A third site joins by configuration alone: a [[site]] block in the registry, three real
nats-servers (the first the hub, two leaves), the services at each. A transfer goes from
Syracuse to the new plant, a batch is made there on the transferred version, and all three
views converge on the same picture: records with where each is effective, batches, the
package accepted."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.siteview.v1 import site_view_service_pb2 as view_api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as api
from twinline.techtransfer.v1 import transfer_pb2 as pb

from services.common.grpc.status import details_of
from services.common.settings import Settings
from services.common.sites import SiteRegistry
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW, TECH_TRANSFER
from tests.support import batches, transfers
from tests.support.batches import q
from tests.support.mbr import request_id, sign
from tests.support.nats_harness import NatsSites
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(600)
SITES = ("syracuse", "songdo", "songdo2")
NEW_PLANT = """
[[site]]
id = "songdo2"
code = "SD2"
display_name = "Songdo Plant 2, Incheon (Korea)"
time_zone = "Asia/Seoul"
nats_domain = "songdo2"
"""
DEADLINE_S = 120


def three_site_registry(path: Path) -> SiteRegistry:
    """deploy/sites.toml with the new plant's block added: the only change a site takes."""
    path.write_text(Path(Settings().sites_file).read_text() + NEW_PLANT)
    return SiteRegistry.load(path)


@pytest_asyncio.fixture(name="stack")
async def three_sites(tmp_path: Path) -> AsyncIterator[Stack]:
    registry = three_site_registry(tmp_path / "sites.toml")  # the Stack's registry file
    assert [site.id for site in registry.sites] == list(SITES)
    running = Stack(tmp_path, registry, NatsSites(tmp_path / "nats", registry),
                    (BATCH_RECORDS.name, SITE_VIEW.name, TECH_TRANSFER.name))
    try:
        await running.start()
        yield running
    finally:
        with contextlib.suppress(Exception):
            await running.close()


async def test_a_third_site_from_configuration_takes_a_transfer_and_three_views_converge(
    stack: Stack,
) -> None:
    master = await batches.effective_master(stack, "syracuse")
    author = await stack.login("syracuse", "author", TECH_TRANSFER.name)

    async def drafted() -> pb.TransferPackage | None:
        try:
            answer = await transfers.stub(author).CreateTransferPackage(
                api.CreateTransferPackageRequest(request_id=request_id(),
                                                 package=transfers.content(master, "songdo2")),
                metadata=author.metadata)
        except grpc.aio.AioRpcError as error:
            if details_of(error)["reason"] == "MASTER_RECORD_NOT_EFFECTIVE_HERE":
                return None
            raise
        return answer.package

    draft = await wait_until(drafted, DEADLINE_S, interval=0.2)
    qa = await stack.login("syracuse", "qa", TECH_TRANSFER.name)
    await transfers.stub(qa).SendTransferPackage(api.SendTransferPackageRequest(
        request_id=request_id(), name=draft.name, etag=draft.etag, signature=sign("qa")),
        metadata=qa.metadata)

    plant_qa = await stack.login("songdo2", "qa", TECH_TRANSFER.name)

    async def received() -> pb.TransferPackage | None:
        found = await transfers.get(plant_qa, draft.name)
        return found if found.state == pb.TRANSFER_STATE_RECEIVED else None

    package = await wait_until(received, DEADLINE_S, interval=0.2,
                               ignore=(grpc.aio.AioRpcError,))
    plant = transfers.stub(plant_qa)
    reviewing = (await plant.StartTransferReview(api.StartTransferReviewRequest(
        request_id=request_id(), name=draft.name, etag=package.receipt.etag),
        metadata=plant_qa.metadata)).package
    await plant.AcceptTransferPackage(api.AcceptTransferPackageRequest(
        request_id=request_id(), name=draft.name, etag=reviewing.receipt.etag,
        signature=sign("qa")), metadata=plant_qa.metadata)

    plant_mes = await stack.login("songdo2", "mes")

    async def plant_batch() -> object:
        try:
            answer = await batches.stub(plant_mes).CreateBatch(batch_api.CreateBatchRequest(
                request_id=request_id(), master_batch_record=master,
                planned_quantity=q("200", "L")), metadata=plant_mes.metadata)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                return None
            raise
        return answer.batch

    batch = await wait_until(plant_batch, DEADLINE_S, interval=0.2)
    assert batch.batch_id.startswith("SD2-B-")  # type: ignore[attr-defined]

    async def picture(site: str) -> tuple[object, ...]:
        viewer = await stack.login(site, "qa", SITE_VIEW.name)
        view = viewer.stub(SiteViewServiceStub)
        records = await view.ListMasterBatchRecords(view_api.ListMasterBatchRecordsRequest(),
                                                    metadata=viewer.metadata)
        listed = await view.ListBatches(view_api.ListBatchesRequest(),
                                        metadata=viewer.metadata)
        packages = await view.ListTransferPackages(view_api.ListTransferPackagesRequest(),
                                                   metadata=viewer.metadata)
        return (
            sorted((r.name, r.etag) for r in records.master_batch_records),
            sorted((e.master_batch_record, e.site) for e in records.effectivity),
            sorted((b.name, b.etag, b.home_site) for b in listed.batches),
            sorted((t.name, t.state, t.revision) for t in packages.transfer_packages),
        )

    async def converged() -> bool:
        pictures = [await picture(site) for site in SITES]
        return pictures[0] == pictures[1] == pictures[2] and pictures[0][1] == [
            (master, "songdo2"), (master, "syracuse")] and any(
            name == batch.name for name, _, _ in pictures[0][2]  # type: ignore[attr-defined]
        ) and pictures[0][3] == [(draft.name, pb.TRANSFER_STATE_ACCEPTED, 1)]

    await wait_until(converged, DEADLINE_S, interval=0.5, ignore=(grpc.aio.AioRpcError,),
                     message="the three views show the same records and batches")
