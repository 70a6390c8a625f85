"""``twinline review``: QA's review by exception of a site's executed batch records, over gRPC.

Logs in as ``--user`` (password prompted), lists what needs QA's eyes, and dispositions an
exception, approves or rejects a batch record with an e-signature: the password is entered
again at each signing (21 CFR 11.200). The service enforces every rule; the tool only shows
what it answered, a refusal with every unmet condition.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

import typer
from google.protobuf import message
from rich.markup import escape
from rich.table import Table
from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.batchrecords.v1.batch_service_pb2_grpc import BatchRecordServiceStub

from services.cli.common import (
    CALL_TIMEOUT_S,
    LIST_PAGE_SIZE,
    AddressOption,
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
from services.cli.record_text import version_label
from services.client.session import Session

review_app = typer.Typer(
    help="Review executed batch records by exception (QA).", no_args_is_help=True
)

BatchArgument = Annotated[str, typer.Argument(help="Batch id (SYR-B-2026-00042) or name.")]


def batch_name(batch: str) -> str:
    return batch if batch.startswith("batches/") else f"batches/{batch}"


def _stub(session: Session) -> BatchRecordServiceStub:
    return session.stub(BatchRecordServiceStub)


@review_app.command("list")
def list_in_review(site: SiteOption = None, user: UserOption = None,
                   address: AddressOption = None, output: OutputOption = "text") -> None:
    """The batch records waiting for QA, with what each still needs decided."""
    checked_output(output)
    target = Target(site, user, address)

    async def work(session: Session) -> list[tuple[pb.Batch, api.ListExceptionsResponse]]:
        found: list[tuple[pb.Batch, api.ListExceptionsResponse]] = []
        async for page in pages(lambda token: _stub(session).ListBatches(
            api.ListBatchesRequest(
                state=pb.BATCH_STATE_IN_REVIEW, page_size=LIST_PAGE_SIZE, page_token=token
            ),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S,
        )):
            for batch in page.batches:
                found.append((batch, await _open_items(session, batch.name)))
        return found

    waiting = target.run(work)
    if output == "json":
        print_json({"site": target.site, "batches": [
            {"batch_id": batch.batch_id, "master_batch_record": batch.master_batch_record,
             "open_exceptions": [e.id for e in items.exceptions],
             "open_deviations": [d.id for d in items.open_deviations]}
            for batch, items in waiting]})
        return
    if not waiting:
        console.print(f"no batch record of {target.site} is waiting for review")
        return
    table = Table(title=f"Batch records in review at {target.site}")
    # At 80 columns the batch id stays whole and the master record's name wraps.
    table.add_column("batch", no_wrap=True)
    table.add_column("master record", overflow="fold")
    table.add_column("open\nexceptions", no_wrap=True, justify="right")
    table.add_column("open\ndeviations", no_wrap=True, justify="right")
    for batch, items in waiting:
        table.add_row(
            batch.batch_id, escape(version_label(batch.master_batch_record)),
            str(len(items.exceptions)),
            str(len(items.open_deviations)),
        )
    console.print(table)


@review_app.command("show")
def show(batch: BatchArgument, site: SiteOption = None, user: UserOption = None,
         address: AddressOption = None, output: OutputOption = "text") -> None:
    """A batch record's exceptions and open deviations: what needs QA's eyes, and nothing else."""
    checked_output(output)
    target = Target(site, user, address)

    async def work(session: Session) -> tuple[pb.Batch, api.ListExceptionsResponse]:
        answer = await _stub(session).GetBatch(
            api.GetBatchRequest(name=batch_name(batch)), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S,
        )
        items = await _stub(session).ListExceptions(
            api.ListExceptionsRequest(batch=batch_name(batch)), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return answer.batch, items

    found, items = target.run(work)
    if output == "json":
        print_json({"batch_id": found.batch_id, "state": pb.BatchState.Name(found.state),
                    **as_dict(items)})
        return
    console.print(
        f"{found.batch_id} ({escape(found.master_batch_record)}): "
        f"{pb.BatchState.Name(found.state)}",
        soft_wrap=True, highlight=False,
    )
    # Lines, not tables: descriptions and reasons are read whole, in a terminal of any width.
    console.print(f"Exceptions ({len(items.exceptions)})" if items.exceptions else "no exceptions")
    for exception in items.exceptions:
        console.print(
            f"  {exception.id} · step {exception.step_id} · "
            f"{pb.Severity.Name(exception.severity)} · raised {utc(exception.raise_time)} · "
            f"{_disposition(exception)}",
            soft_wrap=True, highlight=False,
        )
        console.print(f"      {exception.description}", soft_wrap=True, highlight=False,
                      markup=False)
    if items.open_deviations:
        console.print(f"Open deviations ({len(items.open_deviations)})")
    for deviation in items.open_deviations:
        console.print(
            f"  {deviation.id} · {pb.Severity.Name(deviation.classification)} · "
            f"{deviation.title} · investigation: {deviation.investigation or '—'} · "
            f"CAPA: {deviation.capa_reference or '—'}",
            soft_wrap=True, highlight=False, markup=False,
        )
    undecided = [e.id for e in items.exceptions if not e.HasField("disposition")]
    undecided += [d.id for d in items.open_deviations]
    if undecided:
        console.print(f"needs a decision before approval: {', '.join(undecided)}")
    elif found.state == pb.BATCH_STATE_IN_REVIEW:
        console.print("nothing left open: ready for QA's decision")
    else:
        console.print("nothing left open")


@review_app.command("disposition")
def disposition(
    batch: BatchArgument,
    exception_id: Annotated[str, typer.Argument(help="e.g. EX-1")],
    reason: Annotated[str, typer.Option("--reason", help="The decision and why (required).")],
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """Decides an exception, with an e-signature and the reason."""
    checked_output(output)
    decided_batch = signed_decision(
        Target(site, user, address), "DispositionException", api.DispositionExceptionRequest,
        batch, "disposition", reason, _open_exception(exception_id),
        password_fd, exception_id=exception_id,
    )
    decided = next(e for e in decided_batch.exceptions if e.id == exception_id)
    if output == "json":
        print_json(as_dict(decided))
        return
    console.print(
        f"[green]✓[/green] {exception_id} dispositioned: {_disposition(decided)}",
        soft_wrap=True, highlight=False,
    )
    console.print(f"{decided_batch.batch_id} is {pb.BatchState.Name(decided_batch.state)}")


@review_app.command("approve")
def approve(
    batch: BatchArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, in your words.")] = "",
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """Approves a batch record (QA, e-signature); a refusal lists every unmet condition."""
    checked_output(output)
    approved = signed_decision(
        Target(site, user, address), "ApproveBatchRecord", api.ApproveBatchRecordRequest,
        batch, "APPROVED", reason, _in_review("approved"), password_fd,
    )
    print_approved(approved, output)


def print_approved(approved: pb.Batch, output: str) -> None:
    """An approved batch record as ``review approve`` and ``batch approve`` show it."""
    if output == "json":
        print_json(as_dict(approved))
        return
    signed = approved.signatures[-1]
    console.print(
        f"[green]✓[/green] {approved.batch_id} {pb.BatchState.Name(approved.state)}: signed by "
        f"{escape(signed.printed_name)} ({signed.signer}) at {utc(signed.sign_time)}"
    )


@review_app.command("reject")
def reject(
    batch: BatchArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """Rejects a batch record (QA, e-signature, a reason)."""
    checked_output(output)
    rejected = signed_decision(
        Target(site, user, address), "RejectBatchRecord", api.RejectBatchRecordRequest,
        batch, "REJECTED", reason, _in_review("rejected"), password_fd,
    )
    if output == "json":
        print_json(as_dict(rejected))
        return
    console.print(f"[green]✓[/green] {rejected.batch_id} {pb.BatchState.Name(rejected.state)}")


def signed_decision(
    target: Target, rpc: str, request_type: type[message.Message], batch: str, meaning: str,
    reason: str, ready: Callable[[pb.Batch], str | None] | None, password_fd: int | None,
    **fields: str,
) -> pb.Batch:
    """Sends a signed decision (``rpc`` of BatchRecordService, its request of
    ``request_type`` with ``fields``); the batch as it now stands. The batch is read first:
    if ``ready`` finds a reason the decision cannot be taken, it is said before the password
    is asked for again (the service still checks every rule). Without ``ready`` the service
    alone judges, and its refusal lists every unmet condition at once."""

    async def work(session: Session) -> pb.Batch:
        current = (await _stub(session).GetBatch(
            api.GetBatchRequest(name=batch_name(batch)), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S,
        )).batch
        problem = None if ready is None else ready(current)
        if problem is not None:
            fail(f"{current.batch_id} is {pb.BatchState.Name(current.state)}: {problem}; "
                  "nothing was signed")
        request = request_type(
            request_id=str(uuid.uuid4()), batch=batch_name(batch),
            signature=signature(meaning, reason, password_fd), **fields,
        )
        call = getattr(_stub(session), rpc)
        answer = await call(request, metadata=session.metadata, timeout=CALL_TIMEOUT_S)
        return answer.batch  # type: ignore[no-any-return]

    return target.run(work)


def _in_review(decision: str) -> Callable[[pb.Batch], str | None]:
    def ready(batch: pb.Batch) -> str | None:
        if batch.state == pb.BATCH_STATE_IN_REVIEW:
            return None
        return f"only a batch record in review can be {decision}"
    return ready


def _open_exception(exception_id: str) -> Callable[[pb.Batch], str | None]:
    def ready(batch: pb.Batch) -> str | None:
        found = next((e for e in batch.exceptions if e.id == exception_id), None)
        if found is None:
            known = ", ".join(e.id for e in batch.exceptions) or "none"
            return f"it has no exception {exception_id} (its exceptions: {known})"
        if found.HasField("disposition"):
            return f"{exception_id} is already dispositioned"
        return None
    return ready


async def _open_items(session: Session, name: str) -> api.ListExceptionsResponse:
    return await _stub(session).ListExceptions(
        api.ListExceptionsRequest(batch=name, open_only=True), metadata=session.metadata,
        timeout=CALL_TIMEOUT_S,
    )


def _disposition(exception: pb.BatchException) -> str:
    if not exception.HasField("disposition"):
        return "[yellow]open[/yellow]"
    signed = exception.disposition
    return escape(f"{signed.printed_name}, {utc(signed.sign_time)}: {signed.reason}")
