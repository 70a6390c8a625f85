"""``twinline transfer``: transfer packages between the sites (from the site view, which holds
both sites' parts), and the receiving site's decision on one: accept or return it with the
reason, e-signed by its QA (the password entered again at signing, 21 CFR 11.200).

    twinline transfer list
    twinline transfer show SYR-TP-000001
    twinline transfer accept SYR-TP-000001 --site songdo --reason "fits our skid"
    twinline transfer return SYR-TP-000001 --site songdo --reason "add the DMSO water limit" \\
        --password-fd 3 3<secret

A package received but not yet under review is taken under review first (no signature), then
decided. Exit codes: 0 done, 1 the service refused or the package cannot be decided (not
received, already decided), 2 bad arguments (e.g. deciding at a site the package is not sent
to), 4 a service does not answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from twinline.common.v1 import signature_pb2
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as api
from twinline.techtransfer.v1 import transfer_pb2 as pb
from twinline.techtransfer.v1.tech_transfer_service_pb2_grpc import TechTransferServiceStub

from services.cli.common import (
    CALL_TIMEOUT_S,
    LIST_PAGE_SIZE,
    AddressOption,
    Exit,
    OutputOption,
    PasswordFdOption,
    SiteOption,
    Target,
    UserOption,
    as_dict,
    checked_output,
    console,
    fail,
    pages,
    print_json,
    signature,
    utc,
)
from services.cli.record_text import say, words
from services.client.session import Session
from services.devstack.topology import SITE_VIEW, TECH_TRANSFER

transfer_app = typer.Typer(help="Transfer packages between the sites.", no_args_is_help=True)

PackageArgument = Annotated[str, typer.Argument(help="Package id (SYR-TP-000001) or name.")]
DECIDABLE = (pb.RECEIPT_STATE_RECEIVED, pb.RECEIPT_STATE_UNDER_REVIEW)


def package_name(package: str) -> str:
    return package if package.startswith("transferPackages/") else f"transferPackages/{package}"



def state(package: pb.TransferPackage) -> str:
    return words(pb.TransferState.Name(package.state), "TRANSFER_STATE_")


def master_record(package: pb.TransferPackage) -> str:
    record = package.master_batch_record
    return record.name.removeprefix("masterBatchRecords/") or "—"


@transfer_app.command("list")
def list_packages(
    sending_site: Annotated[str | None, typer.Option(
        "--from", help="Only packages sent by this site.")] = None,
    receiving_site: Annotated[str | None, typer.Option(
        "--to", help="Only packages sent to this site.")] = None,
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """Transfer packages between any two sites, as this site's view holds them."""
    checked_output(output)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> list[pb.TransferPackage]:
        stub = session.stub(SiteViewServiceStub)
        return [found async for page in pages(lambda token: stub.ListTransferPackages(
            view.ListTransferPackagesRequest(
                sending_site=sending_site or "", receiving_site=receiving_site or "",
                page_size=LIST_PAGE_SIZE, page_token=token),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S,
        )) for found in page.transfer_packages]

    packages = target.run(work)
    if output == "json":
        print_json({"site": target.site, "transfer_packages": [
            {"package": p.name, "sending_site": p.sending_site,
             "receiving_site": p.receiving_site, "revision": p.revision,
             "state": pb.TransferState.Name(p.state),
             "master_batch_record": p.master_batch_record.name} for p in packages]})
        return
    if not packages:
        console.print("no transfer packages")
        return
    table = Table(title=f"Transfer packages, as {target.site}'s site view holds them")
    table.add_column("package", no_wrap=True)
    table.add_column("from → to", no_wrap=True)
    table.add_column("rev", no_wrap=True, justify="right")
    table.add_column("state", no_wrap=True)
    table.add_column("master record", overflow="fold")
    for package in packages:
        table.add_row(package.package_id, f"{package.sending_site} → {package.receiving_site}",
                      str(package.revision), state(package), escape(master_record(package)))
    console.print(table)


@transfer_app.command("show")
def show(package: PackageArgument, site: SiteOption = None, user: UserOption = None,
         address: AddressOption = None, output: OutputOption = "text") -> None:
    """A package's content, its sending site's signatures and the receiving site's receipt."""
    checked_output(output)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> pb.TransferPackage:
        answer = await session.stub(SiteViewServiceStub).GetTransferPackage(
            view.GetTransferPackageRequest(name=package_name(package)),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S)
        return answer.transfer_package

    found = target.run(work)
    if output == "json":
        print_json(as_dict(found))
        return
    # Lines, not tables: notes, gaps and comments are read whole, at any width.
    say(f"{found.package_id} · {found.sending_site} → {found.receiving_site} · revision "
        f"{found.revision} · {state(found)}")
    say(f"  master record {master_record(found)} ({found.master_batch_record.product}); "
        f"by {found.author}, updated {utc(found.update_time)}")
    if found.specifications:
        say(f"  specifications: {', '.join(found.specifications)}")
    if found.method_ids:
        say(f"  methods: {', '.join(found.method_ids)}")
    for proven in found.proven_ranges:
        say(f"  proven range: {proven.parameter} {proven.low} to {proven.high} {proven.unit}")
    for material in found.material_attributes:
        say(f"  material: {material.material} {material.attribute}: {material.requirement}")
    for gap in found.gaps:
        closed = f" (closed by {gap.closed_by})" if gap.closed_by else ""
        say(f"  gap {gap.gap_id} [{gap.risk}]: {gap.description}{closed}")
    for criterion in found.comparability:
        say(f"  comparability: {criterion.attribute} within ± {criterion.margin} over "
            f"{criterion.batches} batches at each site")
    if found.notes:
        say(f"  notes: {found.notes}")
    _signatures("Sent", found.signatures)
    if not found.HasField("receipt"):
        say(f"not yet received at {found.receiving_site}")
        return
    receipt = found.receipt
    say(f"Receipt at {found.receiving_site} (revision {receipt.revision}): "
        f"{words(pb.ReceiptState.Name(receipt.state), 'RECEIPT_STATE_')}, received "
        f"{utc(receipt.receive_time)}")
    if receipt.comments:
        say(f"  comments: {receipt.comments}")
    _signatures("Decided", receipt.signatures)


@transfer_app.command("accept")
def accept(
    package: PackageArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, in your words.")] = "",
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """Accepts a package at the receiving site (its QA, e-signed): its master record becomes
    effective here."""
    checked_output(output)
    decided = _decide(Target(site, user, address, TECH_TRANSFER.name), package, "accepted",
                      reason, password_fd, output)
    _decided(decided, output)


@transfer_app.command("return")
def return_package(
    package: PackageArgument,
    reason: Annotated[str, typer.Option(
        "--reason", help="What the sending site must change (required).")],
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """Returns a package to its sending site with what must change, e-signed."""
    checked_output(output)
    decided = _decide(Target(site, user, address, TECH_TRANSFER.name), package, "returned",
                      reason, password_fd, output)
    _decided(decided, output)


def _decide(target: Target, package: str, decision: str, reason: str,
            password_fd: int | None, output: str) -> pb.TransferPackage:
    """Reads the package at this site first: a decision it cannot take is said before the
    password is asked for (the service still checks every rule)."""
    name = package_name(package)

    async def work(session: Session) -> pb.TransferPackage:
        stub = session.stub(TechTransferServiceStub)
        found = (await stub.GetTransferPackage(api.GetTransferPackageRequest(name=name),
                                               metadata=session.metadata,
                                               timeout=CALL_TIMEOUT_S)).package
        if found.receiving_site != target.site:
            fail(f"{found.package_id} is sent to {found.receiving_site}: only its QA decides it "
                 f"(--site {found.receiving_site}); nothing was sent", Exit.USAGE)
        receipt = found.receipt
        if receipt.state not in DECIDABLE or receipt.revision != found.revision:
            fail(f"{found.package_id} is {state(found)} at {target.site}: only a received "
                 f"package can be {decision}; nothing was signed")
        if receipt.state == pb.RECEIPT_STATE_RECEIVED:
            found = (await stub.StartTransferReview(api.StartTransferReviewRequest(
                request_id=str(uuid.uuid4()), name=name, etag=receipt.etag),
                metadata=session.metadata, timeout=CALL_TIMEOUT_S)).package
            if output == "text":
                console.print(f"{found.package_id}: review started at {target.site}")
        signed = signature(decision, reason, password_fd)
        etag = found.receipt.etag
        if decision == "accepted":
            answer = await stub.AcceptTransferPackage(api.AcceptTransferPackageRequest(
                request_id=str(uuid.uuid4()), name=name, etag=etag, signature=signed),
                metadata=session.metadata, timeout=CALL_TIMEOUT_S)
            return answer.package
        returned = await stub.ReturnTransferPackage(api.ReturnTransferPackageRequest(
            request_id=str(uuid.uuid4()), name=name, etag=etag, comments=reason,
            signature=signed), metadata=session.metadata, timeout=CALL_TIMEOUT_S)
        return returned.package

    return target.run(work)


def _decided(package: pb.TransferPackage, output: str) -> None:
    if output == "json":
        print_json(as_dict(package))
        return
    signed = package.receipt.signatures[-1]
    console.print(f"[green]✓[/green] {package.package_id} {state(package)}: signed by "
                  f"{escape(signed.printed_name)} ({signed.signer}) at {utc(signed.sign_time)}",
                  soft_wrap=True, highlight=False)


def _signatures(what: str, signatures: Iterable[signature_pb2.Signature]) -> None:
    for signed in signatures:
        meaning = words(signature_pb2.SignatureMeaning.Name(signed.meaning),
                        "SIGNATURE_MEANING_")
        say(f"  {what}: {meaning} by {signed.printed_name} ({signed.signer}) at "
            f"{utc(signed.sign_time)}" + (f": {signed.reason}" if signed.reason else ""))

