"""``twinline transfer list|show|accept|return`` against real batch_records, tech_transfer and
site view services at both sites: a Syracuse → Songdo package listed and shown at both sites,
returned by Songdo's QA at the hidden prompt, revised, and accepted with --password-fd; the
sending site cannot decide it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
import pytest_asyncio
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as api
from twinline.techtransfer.v1 import transfer_pb2 as pb
from typer.testing import CliRunner, Result

from services.cli.app import app
from services.common.grpc.status import details_of
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW, TECH_TRANSFER
from tests.support import batches, transfers
from tests.support.mbr import request_id, sign
from tests.support.nats_harness import NatsSites
from tests.support.stack import Stack, write_default_registry
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]
SENDER, RECEIVER = "syracuse", "songdo"
DEADLINE_S = 90
SIGNING_PROMPT = "Re-enter your password"


@dataclass
class Transfer:
    stack: Stack
    master: str
    package: pb.TransferPackage  # as sent, revision 1


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def transfer(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Transfer]:
    base = tmp_path_factory.mktemp("cli-transfers")
    registry = write_default_registry(base / "sites.toml")
    stack = Stack(base, registry, NatsSites(base / "nats", registry),
                  (BATCH_RECORDS.name, SITE_VIEW.name, TECH_TRANSFER.name))
    try:
        await stack.start()
        master = await batches.effective_master(stack, SENDER)
        author = await stack.login(SENDER, "author", TECH_TRANSFER.name)

        async def drafted() -> pb.TransferPackage | None:
            try:
                answer = await transfers.stub(author).CreateTransferPackage(
                    api.CreateTransferPackageRequest(
                        request_id=request_id(), package=transfers.content(master, RECEIVER)),
                    metadata=author.metadata)
            except grpc.aio.AioRpcError as error:
                if details_of(error)["reason"] == "MASTER_RECORD_NOT_EFFECTIVE_HERE":
                    return None  # the record's "made_effective" event is on its way
                raise
            return answer.package

        draft = await wait_until(drafted, DEADLINE_S, interval=0.2)
        qa = await stack.login(SENDER, "qa", TECH_TRANSFER.name)
        sent = (await transfers.stub(qa).SendTransferPackage(api.SendTransferPackageRequest(
            request_id=request_id(), name=draft.name, etag=draft.etag, signature=sign("qa")),
            metadata=qa.metadata)).package
        yield Transfer(stack, master, sent)
    finally:
        await stack.close()


async def twinline(transfer: Transfer, site: str, service: str, *args: str,
                   signing: str | None = None, password_fd: str | None = None) -> Result:
    """``twinline <args>`` as ``site``'s QA at its ``service``: the login password typed, then
    ``signing`` at the signing prompt, or the signing password through --password-fd."""
    command = [*args, "--site", site, "--user", f"{site}.qa",
               "--address", transfer.stack.address(site, service)]
    typed = f"{demo_password('qa')}\n" + (f"{signing}\n" if signing is not None else "")
    env = {"TWINLINE_SITES_FILE": str(transfer.stack.registry_file)}
    if password_fd is None:
        return await asyncio.to_thread(CliRunner().invoke, app, command, input=typed, env=env)
    read, write = os.pipe()
    os.write(write, f"{password_fd}\n".encode())
    os.close(write)
    try:
        return await asyncio.to_thread(CliRunner().invoke, app,
                                       [*command, "--password-fd", str(read)], input=typed,
                                       env=env)
    finally:
        os.close(read)


def document(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


async def received_at_songdo(transfer: Transfer, revision: int) -> None:
    """Songdo's service acknowledged ``revision`` on arrival."""
    qa = await transfer.stack.login(RECEIVER, "qa", TECH_TRANSFER.name)

    async def received() -> bool:
        found = await transfers.get(qa, transfer.package.name)
        return (found.state, found.revision) == (pb.TRANSFER_STATE_RECEIVED, revision)

    await wait_until(received, DEADLINE_S, interval=0.2, ignore=(grpc.aio.AioRpcError,),
                     message=f"Songdo never received revision {revision}")


async def test_both_sites_list_and_show_the_package(transfer: Transfer) -> None:
    package_id = transfer.package.package_id
    for site in (SENDER, RECEIVER):
        async def received(at: str = site) -> Result | None:
            listed = await twinline(transfer, at, SITE_VIEW.name, "transfer", "list")
            return listed if package_id in listed.output and "received" in listed.output \
                else None

        listed = await wait_until(received, DEADLINE_S, interval=0.5,
                                  message=f"{site}'s view never listed the package received")
        assert "syracuse → songdo" in listed.output
        assert "…" not in listed.output  # CliRunner's console is 80 columns wide

    as_json = document(await twinline(transfer, RECEIVER, SITE_VIEW.name, "transfer", "list",
                                      "--to", RECEIVER, "--output", "json"))
    assert [(p["package"], p["revision"], p["state"])  # type: ignore[index]
            for p in as_json["transfer_packages"]] == [  # type: ignore[attr-defined]
        (transfer.package.name, 1, "TRANSFER_STATE_RECEIVED")]
    none_back = document(await twinline(transfer, RECEIVER, SITE_VIEW.name, "transfer", "list",
                                        "--to", SENDER, "--output", "json"))
    assert none_back["transfer_packages"] == []

    shown = await twinline(transfer, RECEIVER, SITE_VIEW.name, "transfer", "show", package_id)
    assert shown.exit_code == 0, shown.output
    assert f"{package_id} · syracuse → songdo · revision 1 · received" in shown.output
    assert "gap G1 [medium]: Songdo's UF/DF skid is 20 % smaller (closed by monomer)" \
        in shown.output
    assert "proven range: temperature 18 to 32 Cel" in shown.output
    assert "Sent: approved by Priya Raman" in shown.output
    assert "Receipt at songdo (revision 1): received" in shown.output
    shown_json = document(await twinline(transfer, RECEIVER, SITE_VIEW.name, "transfer", "show",
                                         package_id, "--output", "json"))
    assert shown_json["receipt"]["state"] == "RECEIPT_STATE_RECEIVED"  # type: ignore[index]

    unknown = await twinline(transfer, RECEIVER, SITE_VIEW.name, "transfer", "show",
                             "SYR-TP-999999")
    assert unknown.exit_code == 1
    assert "NOT_FOUND" in unknown.output


async def test_songdo_returns_the_package_then_accepts_its_revision(transfer: Transfer) -> None:
    package_id = transfer.package.package_id
    await received_at_songdo(transfer, 1)
    by_sender = await twinline(transfer, SENDER, TECH_TRANSFER.name, "transfer", "accept",
                               package_id)
    assert by_sender.exit_code == 2, by_sender.output
    assert "only its QA decides it (--site songdo); nothing was sent" in by_sender.output
    no_reason = await twinline(transfer, RECEIVER, TECH_TRANSFER.name, "transfer", "return",
                               package_id)
    assert no_reason.exit_code == 2

    returned = await twinline(transfer, RECEIVER, TECH_TRANSFER.name, "transfer", "return",
                              package_id, "--reason", "Add the DMSO water limit",
                              signing=demo_password("qa"))
    assert returned.exit_code == 0, returned.output
    assert SIGNING_PROMPT in returned.output
    assert f"{package_id}: review started at songdo" in returned.output
    assert f"✓ {package_id} returned: signed by Priya Raman" in returned.output

    again = await twinline(transfer, RECEIVER, TECH_TRANSFER.name, "transfer", "accept",
                           package_id)
    assert again.exit_code == 1, again.output
    assert "only a received package can be accepted; nothing was signed" in again.output
    assert SIGNING_PROMPT not in again.output

    author = await transfer.stack.login(SENDER, "author", TECH_TRANSFER.name)

    async def back_at_syracuse() -> pb.TransferPackage | None:
        found = await transfers.get(author, transfer.package.name)
        return found if found.state == pb.TRANSFER_STATE_RETURNED else None

    back = await wait_until(back_at_syracuse, DEADLINE_S, interval=0.2)
    revised = transfers.content(transfer.master, RECEIVER, notes="DMSO water ≤ 0.05 % added")
    revised.name, revised.etag = back.name, back.etag
    revision = (await transfers.stub(author).ReviseTransferPackage(
        api.ReviseTransferPackageRequest(request_id=request_id(), package=revised),
        metadata=author.metadata)).package
    qa = await transfer.stack.login(SENDER, "qa", TECH_TRANSFER.name)
    await transfers.stub(qa).SendTransferPackage(api.SendTransferPackageRequest(
        request_id=request_id(), name=back.name, etag=revision.etag, signature=sign("qa")),
        metadata=qa.metadata)
    await received_at_songdo(transfer, 2)

    accepted = document(await twinline(
        transfer, RECEIVER, TECH_TRANSFER.name, "transfer", "accept", package_id,
        "--reason", "water limit added", "--output", "json", password_fd=demo_password("qa")))
    assert (accepted["state"], accepted["revision"]) == ("TRANSFER_STATE_ACCEPTED", 2)
    assert [s["signer"] for s in accepted["receipt"]["signatures"]] == ["songdo.qa"]  # type: ignore[index]

    async def accepted_at_syracuse() -> Result | None:
        shown = await twinline(transfer, SENDER, SITE_VIEW.name, "transfer", "show", package_id)
        return shown if "revision 2 · accepted" in shown.output else None

    shown = await wait_until(accepted_at_syracuse, DEADLINE_S, interval=0.5,
                             message="Syracuse's view never showed the package accepted")
    assert "notes: DMSO water ≤ 0.05 % added" in shown.output
    assert "Decided: approved by Priya Raman" in shown.output
