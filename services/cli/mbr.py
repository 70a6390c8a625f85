"""``twinline mbr``: master batch records — every site's versions with their effectivity (the
site view), one version's steps, parameters and signatures, the difference of two versions
(tech transfer's GetRecipeDiff) and the signed review, approval or effectiveness of a version.

The service enforces every rule (who may sign what, four eyes, the order of the lifecycle);
the tool shows what it answered, a refusal with each unmet condition.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.siteview.v1 import site_view_service_pb2 as view_api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as transfer_api
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
    ViewOption,
    as_dict,
    checked_output,
    console,
    fail,
    pages,
    print_json,
    reader,
    signature,
    utc,
)
from services.cli.record_text import alert_range, limits, manifestation, say
from services.client.session import Session
from services.devstack.topology import SITE_VIEW, TECH_TRANSFER

mbr_app = typer.Typer(help="Master batch records: list, show, diff, sign.", no_args_is_help=True)

NAME_PREFIX = "masterBatchRecords/"
STATE_PREFIX = "MASTER_BATCH_RECORD_STATE_"
NameArgument = Annotated[str, typer.Argument(
    help="A version: SYR-MBR-000001@2, masterBatchRecords/SYR-MBR-000001/versions/2, or "
         "SYR-MBR-000001 for its latest version.")]


def record_name(text: str) -> str:
    """The resource name of ``text``: a name as is, ``ID@N`` version N, ``ID`` the latest."""
    if text.startswith(NAME_PREFIX):
        return text
    record_id, at, version = text.partition("@")
    if not record_id or (at and not version):
        raise typer.BadParameter(f"{text!r}: name a record, e.g. SYR-MBR-000001@2")
    return f"{NAME_PREFIX}{record_id}/versions/{version or 'latest'}"


def state_of(record: pb.MasterBatchRecord) -> str:
    return pb.MasterBatchRecordState.Name(record.state).removeprefix(STATE_PREFIX)


@mbr_app.command("list")
def list_records(
    site_of_origin: Annotated[str | None, typer.Option(
        "--site-of-origin", help="Only records authored at this site.")] = None,
    record: Annotated[str | None, typer.Option(
        "--record", help="Only versions of this record, e.g. SYR-MBR-000001.")] = None,
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """Every site's master record versions, with the sites where each is effective."""
    checked_output(output)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> tuple[list[pb.MasterBatchRecord],
                                              list[view_api.SiteEffectivity]]:
        records: list[pb.MasterBatchRecord] = []
        effectivity: list[view_api.SiteEffectivity] = []
        stub = session.stub(SiteViewServiceStub)
        async for page in pages(lambda token: stub.ListMasterBatchRecords(
            view_api.ListMasterBatchRecordsRequest(
                site=site_of_origin or "", record_id=record or "",
                page_size=LIST_PAGE_SIZE, page_token=token,
            ),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S,
        )):
            records += page.master_batch_records
            effectivity += page.effectivity
        return records, effectivity

    records, effectivity = target.run(work)
    where: dict[str, list[view_api.SiteEffectivity]] = {}
    for effective in effectivity:
        where.setdefault(effective.master_batch_record, []).append(effective)
    if output == "json":
        print_json({"site": target.site, "master_batch_records": [
            {"name": found.name, "record_id": found.record_id, "version": found.version,
             "home_site": found.home_site, "product": found.product, "title": found.title,
             "state": pb.MasterBatchRecordState.Name(found.state),
             "effective_at": [as_dict(e) for e in where.get(found.name, [])]}
            for found in records]})
        return
    if not records:
        console.print(f"{target.site}'s site view holds no master batch record")
        return
    table = Table(title=f"Master batch records as {target.site}'s site view has them")
    table.add_column("site", no_wrap=True)
    table.add_column("record", no_wrap=True)
    table.add_column("product", overflow="fold")
    table.add_column("state", no_wrap=True)
    table.add_column("effective at", overflow="fold")
    for found in records:
        at = ", ".join(
            e.site + (f" ({e.package.removeprefix('transferPackages/')})" if e.package else "")
            for e in where.get(found.name, [])) or "—"
        table.add_row(found.home_site, f"{found.record_id}@{found.version}", found.product,
                      state_of(found), at)
    console.print(table)


@mbr_app.command("show")
def show(
    name: NameArgument,
    view: ViewOption = False,
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """One version: its steps, parameters with units and limits, and its signatures."""
    checked_output(output)
    wanted = record_name(name)
    if view and wanted.endswith("/latest"):
        fail("the site view holds versions, not 'latest': name one, e.g. SYR-MBR-000001@2",
             Exit.USAGE)
    target = reader(wanted, view, site, user, address)

    async def work(session: Session) -> tuple[pb.MasterBatchRecord,
                                              list[view_api.SiteEffectivity]]:
        if view:
            seen = await session.stub(SiteViewServiceStub).GetMasterBatchRecord(
                view_api.GetMasterBatchRecordRequest(name=wanted), metadata=session.metadata,
                timeout=CALL_TIMEOUT_S)
            return seen.master_batch_record, list(seen.effectivity)
        answer = await session.stub(MasterBatchRecordServiceStub).GetMasterBatchRecord(
            api.GetMasterBatchRecordRequest(name=wanted), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S)
        return answer.master_batch_record, []

    found, effectivity = target.run(work)
    if output == "json":
        shown: dict[str, Any] = as_dict(found)
        if view:
            shown["effective_at"] = [as_dict(e) for e in effectivity]
        print_json(shown)
        return
    _print_record(found)
    for effective in effectivity:
        by = f" by {effective.package}" if effective.package else ""
        say(f"effective at {effective.site}{by} since {utc(effective.effective_time)}")


def _print_record(found: pb.MasterBatchRecord) -> None:
    say(f"{found.record_id}@{found.version} {found.title} — {state_of(found)}")
    say(f"  product {found.product} · process {found.process} · home site "
        f"{found.home_site} · author {found.author}")
    if found.supersedes:
        say(f"  supersedes {found.supersedes}")
    if found.superseded_by:
        say(f"  superseded by {found.superseded_by}")
    for procedure in found.unit_procedures:
        say(f"{procedure.id} {procedure.name}")
        for operation in procedure.operations:
            say(f"  {operation.id} {operation.name}")
            for step in operation.steps:
                kind = pb.StepKind.Name(step.kind).removeprefix("STEP_KIND_")
                flags = [kind] + (["verified by a second person"]
                                  if step.requires_verification else [])
                flags += ["may run in parallel"] if step.parallel_allowed else []
                say(f"    {step.id} {step.name} ({', '.join(flags)})")
                say(f"      {step.instruction}")
                for parameter in step.parameters:
                    critical = " · critical" if parameter.critical else ""
                    say(f"      • {parameter.name} ({parameter.unit}): target "
                        f"{parameter.target or '—'} {parameter.unit} · limits "
                        f"{limits(parameter)} · alert {alert_range(parameter)}{critical}")
    say("Signatures" if found.signatures else "no signatures yet")
    for signed in found.signatures:
        say(f"  {manifestation(signed)}")


DIFF_MARKS = {"ADDED": "+", "REMOVED": "-"}


@mbr_app.command("diff")
def diff(
    before: Annotated[str, typer.Argument(help="The earlier version, e.g. SYR-MBR-000001@1.")],
    after: Annotated[str, typer.Argument(help="The later version, e.g. SYR-MBR-000001@2.")],
    site: SiteOption = None, user: UserOption = None,
    address: Annotated[str | None, typer.Option(
        "--address", help="The tech_transfer service's gRPC address; default: its port at the "
                          "site.")] = None,
    output: OutputOption = "text",
) -> None:
    """What changed between two versions: steps and parameters, limits, units, targets.

    Either version is one of this site's records, or one a transfer package carries (tech
    transfer's GetRecipeDiff)."""
    checked_output(output)
    names = [record_name(before), record_name(after)]
    if any(name.endswith("/latest") for name in names):
        fail("diff compares two versions: name each, e.g. SYR-MBR-000001@1 SYR-MBR-000001@2",
             Exit.USAGE)
    target = Target(site, user, address, TECH_TRANSFER.name)

    async def work(session: Session) -> transfer_api.GetRecipeDiffResponse:
        answer: transfer_api.GetRecipeDiffResponse = await session.stub(
            TechTransferServiceStub).GetRecipeDiff(
                transfer_api.GetRecipeDiffRequest(before=names[0], after=names[1]),
                metadata=session.metadata, timeout=CALL_TIMEOUT_S)
        return answer

    found = target.run(work)
    if output == "json":
        print_json(as_dict(found))
        return
    say(f"--- {found.before}\n+++ {found.after}")
    if not found.changes:
        say("no difference")
    for change in found.changes:
        kind = transfer_api.RecipeChangeKind.Name(change.kind).removeprefix(
            "RECIPE_CHANGE_KIND_")
        mark = next((m for word, m in DIFF_MARKS.items() if kind.endswith(word)), "~")
        values = change.after if mark == "+" else change.before if mark == "-" else (
            f"{change.before} → {change.after}")
        detail = f" ({change.detail})" if change.detail else ""
        say(f"{mark} {change.path}: {kind.lower().replace('_', ' ')} {values}{detail}")


class Meaning(StrEnum):
    """What a signature of a master record means; each is its own step of the lifecycle."""

    reviewed = "reviewed"
    approved = "approved"
    made_effective = "made-effective"


@mbr_app.command("approve")
def approve(
    name: NameArgument,
    meaning: Annotated[Meaning, typer.Option(
        "--meaning", help="reviewed (a reviewer, not the author), approved (QA, after the "
                          "review, neither author nor reviewer) or made-effective (QA, at "
                          "the record's home site).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, in your words.")] = "",
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """Signs a version (e-signature); a refusal lists every unmet condition."""
    checked_output(output)
    wanted = record_name(name)
    target = Target(site, user, address)

    async def work(session: Session) -> tuple[pb.MasterBatchRecord, str]:
        stub = session.stub(MasterBatchRecordServiceStub)
        current = (await stub.GetMasterBatchRecord(
            api.GetMasterBatchRecordRequest(name=wanted), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S)).master_batch_record
        signed = signature(meaning.value.replace("-", " "), reason, password_fd)
        fields = {"request_id": str(uuid.uuid4()), "name": current.name, "etag": current.etag,
                  "signature": signed}
        options: dict[str, Any] = {"metadata": session.metadata, "timeout": CALL_TIMEOUT_S}
        if meaning is Meaning.reviewed:
            reviewed = await stub.ReviewMasterBatchRecord(
                api.ReviewMasterBatchRecordRequest(**fields), **options)
            return reviewed.master_batch_record, ""
        if meaning is Meaning.approved:
            approved = await stub.ApproveMasterBatchRecord(
                api.ApproveMasterBatchRecordRequest(**fields), **options)
            return approved.master_batch_record, ""
        effective = await stub.MakeMasterBatchRecordEffective(
            api.MakeMasterBatchRecordEffectiveRequest(**fields), **options)
        return effective.master_batch_record, effective.superseded

    found, superseded = target.run(work)
    if output == "json":
        print_json({**as_dict(found), "superseded": superseded})
        return
    say(f"✓ {found.record_id}@{found.version} is {state_of(found)}: "
        f"{manifestation(found.signatures[-1])}")
    if superseded:
        say(f"it supersedes {superseded}")
