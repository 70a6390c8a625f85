"""``make demo``: against the running sites (``make run``), one master batch record through its
whole lifecycle at Syracuse (its author, who also holds QA, is refused approving it), then a
batch of it on the floor (an excursion, a hold, QA's disposition, QA approval), each with the
measured delay until Songdo's site view shows it; a second batch is left in review for the
reader to decide with ``twinline review``.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
from rich.console import Console
from rich.table import Table
from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.batchrecords.v1 import equipment_service_pb2 as equipment_api
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.batch_service_pb2_grpc import BatchRecordServiceStub
from twinline.batchrecords.v1.equipment_service_pb2_grpc import EquipmentServiceStub
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.common.v1 import audit_pb2, quantity_pb2, signature_pb2
from twinline.common.v1.audit_pb2_grpc import AuditTrailServiceStub
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.client.session import Session
from services.common.settings import Settings
from services.devstack.console_script import twinline_command
from services.devstack.demo_users import demo_password
from services.devstack.recipes import demo_recipe
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW, grpc_address

console = Console()
STATE = {value: name.removeprefix("MASTER_BATCH_RECORD_STATE_")
         for name, value in pb.MasterBatchRecordState.items()}


def signed(job: str, reason: str) -> signature_pb2.SignatureInput:
    return signature_pb2.SignatureInput(password=demo_password(job), reason=reason)


def show(step: str, record: pb.MasterBatchRecord, who: str) -> None:
    console.print(
        f"[bold green]✓[/] {step:<28} [cyan]{record.name}[/]  state={STATE[record.state]:<10} "
        f"etag={record.etag:<6} by {who}"
    )


async def run() -> None:
    settings = Settings()
    registry = settings.registry
    syracuse, songdo = registry.get("syracuse"), registry.get("songdo")
    records_at = grpc_address(registry, syracuse, BATCH_RECORDS.name)
    view_at = grpc_address(registry, songdo, SITE_VIEW.name)
    try:
        author = await Session.login(
            records_at, "syracuse.engineer-qa", demo_password("engineer-qa")
        )
    except grpc.aio.AioRpcError as error:
        console.print(f"[red]Cannot reach Syracuse at {records_at}: is `make run` up?[/] "
                      f"({error.code().name}: {error.details()})")
        raise SystemExit(1) from None
    reviewer = await Session.login(records_at, "syracuse.reviewer", demo_password("reviewer"))
    qa = await Session.login(records_at, "syracuse.qa", demo_password("qa"))
    viewer = await Session.login(view_at, "songdo.qa", demo_password("qa"))
    console.rule("Syracuse: a master batch record, authored → reviewed → approved → effective")
    stub = author.stub(MasterBatchRecordServiceStub)
    record = (await stub.CreateMasterBatchRecord(api.CreateMasterBatchRecordRequest(
        request_id=str(uuid.uuid4()), master_batch_record=demo_recipe()), metadata=author.metadata
    )).master_batch_record
    show("created (draft)", record, author.user.printed_name)
    record = (await stub.SubmitMasterBatchRecordForReview(
        api.SubmitMasterBatchRecordForReviewRequest(
            request_id=str(uuid.uuid4()), name=record.name, etag=record.etag),
        metadata=author.metadata)).master_batch_record
    show("submitted for review", record, author.user.printed_name)
    record = (await reviewer.stub(MasterBatchRecordServiceStub).ReviewMasterBatchRecord(
        api.ReviewMasterBatchRecordRequest(
            request_id=str(uuid.uuid4()), name=record.name, etag=record.etag,
            signature=signed("reviewer", "structure, limits and CPPs checked")),
        metadata=reviewer.metadata)).master_batch_record
    show("reviewed (e-signed)", record, reviewer.user.printed_name)
    try:
        await stub.ApproveMasterBatchRecord(api.ApproveMasterBatchRecordRequest(
            request_id=str(uuid.uuid4()), name=record.name, etag=record.etag,
            signature=signed("engineer-qa", "my own record")), metadata=author.metadata)
        console.print("[red]the author was allowed to approve her own record[/]")
        raise SystemExit(1)
    except grpc.aio.AioRpcError as refusal:
        console.print(
            f"[bold green]✓[/] refused: {author.user.printed_name} holds QA but wrote the "
            f"record ({refusal.code().name}: {refusal.details()})", highlight=False,
        )
    qa_stub = qa.stub(MasterBatchRecordServiceStub)
    record = (await qa_stub.ApproveMasterBatchRecord(api.ApproveMasterBatchRecordRequest(
        request_id=str(uuid.uuid4()), name=record.name, etag=record.etag,
        signature=signed("qa", "approved for GMP manufacture")), metadata=qa.metadata
    )).master_batch_record
    show("approved (e-signed)", record, qa.user.printed_name)
    record = (await qa_stub.MakeMasterBatchRecordEffective(
        api.MakeMasterBatchRecordEffectiveRequest(
            request_id=str(uuid.uuid4()), name=record.name, etag=record.etag,
            signature=signed("qa", "effective at Syracuse")), metadata=qa.metadata
    )).master_batch_record
    committed = time.perf_counter()
    show("made effective (e-signed)", record, qa.user.printed_name)

    signatures = Table(title="Signatures on the record")
    signatures.add_column("meaning", no_wrap=True)
    signatures.add_column("printed name", overflow="fold")
    signatures.add_column("signed (UTC)", no_wrap=True)
    signatures.add_column("reason", overflow="fold")
    for signature in record.signatures:
        signed_at = signature.sign_time.ToDatetime()
        signatures.add_row(
            signature_pb2.SignatureMeaning.Name(signature.meaning).removeprefix(
                "SIGNATURE_MEANING_"),
            signature.printed_name, f"{signed_at:%Y-%m-%d}\n{signed_at:%H:%M:%S}Z",
            signature.reason,
        )
    console.print(signatures)

    console.rule("Songdo: the site view")
    view_stub = viewer.stub(SiteViewServiceStub)
    deadline = committed + 10
    while True:
        try:
            seen = (await view_stub.GetMasterBatchRecord(
                view.GetMasterBatchRecordRequest(name=record.name), metadata=viewer.metadata
            )).master_batch_record
            if seen.etag == record.etag:
                break
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
        if time.perf_counter() > deadline:
            console.print("[red]Songdo did not list the record within 10 s — is the leaf link up?")
            raise SystemExit(1)
        await asyncio.sleep(0.001)
    delay_ms = (time.perf_counter() - committed) * 1000
    console.print(
        f"[bold green]✓[/] Songdo lists [cyan]{seen.name}[/] as {STATE[seen.state]} "
        f"[bold]{delay_ms:.1f} ms[/] after Syracuse committed it"
    )
    audit = await qa.stub(AuditTrailServiceStub).VerifyAuditTrail(
        audit_pb2.VerifyAuditTrailRequest(), metadata=qa.metadata)
    console.print(
        f"[bold green]✓[/] Syracuse audit trail: {audit.entries_checked} entries, "
        f"{'intact' if audit.intact else 'BROKEN at ' + str(audit.first_broken_sequence)}"
    )
    sessions = [author, reviewer, qa, viewer]
    sessions += await run_batch(records_at, record.name, reviewer, qa, viewer)
    left = await leave_in_review(records_at, record.name, reviewer)
    for session in sessions:
        await session.close()
    console.rule("Your turn: a batch in review")
    console.print(
        f"{left} waits for QA: step S1 was not verified. Decide it as QA (password "
        f"{demo_password('qa')}):", highlight=False,
    )
    twinline = twinline_command()
    for command in (
        f"{twinline} review show {left} --user syracuse.qa",
        f'{twinline} review disposition {left} EX-1 --reason "..." --user syracuse.qa',
        f"{twinline} review approve {left} --user syracuse.qa",
    ):
        console.print(f"  {command}", soft_wrap=True, highlight=False)


def _quantity(value: str, unit: str) -> quantity_pb2.Quantity:
    return quantity_pb2.Quantity(value=value, unit=unit)


async def run_batch(
    records_at: str, master: str, supervisor: Session, qa: Session, viewer: Session
) -> list[Session]:
    """A batch of that record on the floor: an excursion, a hold, a disposition, approval."""
    console.rule("Syracuse: a batch on the floor, reviewed by exception")
    mes = await Session.login(records_at, "syracuse.mes", demo_password("mes"))
    operator = await Session.login(records_at, "syracuse.operator", demo_password("operator"))
    verifier = await Session.login(records_at, "syracuse.verifier", demo_password("verifier"))
    await supervisor.stub(EquipmentServiceStub).SetEquipment(equipment_api.SetEquipmentRequest(
        request_id=str(uuid.uuid4()), equipment=equipment_api.Equipment(
            equipment_id="R-201", description="200 L conjugation reactor",
            status=equipment_api.EQUIPMENT_STATUS_CLEAN)), metadata=supervisor.metadata)
    batches = mes.stub(BatchRecordServiceStub)
    batch = (await batches.CreateBatch(batch_api.CreateBatchRequest(
        request_id=str(uuid.uuid4()), master_batch_record=master,
        planned_quantity=_quantity("200", "L")), metadata=mes.metadata)).batch
    console.print(f"[bold green]✓[/] created [cyan]{batch.name}[/] from {master} by MES")

    def step(
        step_id: str, values: dict[str, tuple[str, str]] | None = None
    ) -> batch_api.StepRecordInput:
        return batch_api.StepRecordInput(
            step_id=step_id, equipment=[batch_api.EquipmentUseInput(equipment_id="R-201")],
            parameter_values=[
                batch_api.ParameterValueInput(name=name, value=_quantity(*value))
                for name, value in (values or {}).items()
            ],
        )

    async def record(item: batch_api.StepRecordInput) -> batch_api.RecordStepResponse:
        return await operator.stub(BatchRecordServiceStub).RecordStep(
            batch_api.RecordStepRequest(
                request_id=str(uuid.uuid4()), batch=batch.name, step=item,
                signature=signed("operator", "")),
            metadata=operator.metadata)

    async def verify(step_id: str) -> None:
        await verifier.stub(BatchRecordServiceStub).VerifyStep(batch_api.VerifyStepRequest(
            request_id=str(uuid.uuid4()), batch=batch.name, step_id=step_id,
            signature=signed("verifier", "")), metadata=verifier.metadata)

    await record(step("S1"))
    await verify("S1")
    console.print("[bold green]✓[/] S1 charged (operator) and verified (second person)")
    answer = await record(step("S2", {"TCEP": ("2.5", "mol/mol"), "temperature": ("34", "Cel"),
                                      "hold time": ("90", "min")}))
    for raised in answer.raised:
        console.print(f"[bold yellow]![/] server raised {raised.id}: {raised.description}")
    console.print(f"  batch is now [bold]{batch_pb2.BatchState.Name(answer.batch.state)}[/]")
    # A major exception: QA decides it, not the supervisor (who may only propose).
    await qa.stub(BatchRecordServiceStub).DispositionException(
        batch_api.DispositionExceptionRequest(
            request_id=str(uuid.uuid4()), batch=batch.name, exception_id=answer.raised[0].id,
            signature=signed("qa", "probe drift; jacket log shows 25 Cel; continue")),
        metadata=qa.metadata)
    console.print(f"[bold green]✓[/] {answer.raised[0].id} dispositioned by QA; "
                  "hold released")
    await verify("S2")
    await record(step("S3", {"co-solvent": ("8", "%")}))
    await record(step("S4"))
    await supervisor.stub(BatchRecordServiceStub).CompleteBatch(batch_api.CompleteBatchRequest(
        request_id=str(uuid.uuid4()), batch=batch.name,
        signature=signed("reviewer", "all steps recorded")), metadata=supervisor.metadata)
    await supervisor.stub(BatchRecordServiceStub).SubmitBatchForReview(
        batch_api.SubmitBatchForReviewRequest(request_id=str(uuid.uuid4()), batch=batch.name),
        metadata=supervisor.metadata)
    # QA approves: she executed and verified no step of this batch (independence).
    approved = (await qa.stub(BatchRecordServiceStub).ApproveBatchRecord(
        batch_api.ApproveBatchRecordRequest(
            request_id=str(uuid.uuid4()), batch=batch.name,
            signature=signed("qa", "reviewed by exception; released to QC")),
        metadata=qa.metadata)).batch
    committed = time.perf_counter()
    console.print(f"[bold green]✓[/] approved by QA: "
                  f"{batch_pb2.BatchState.Name(approved.state)}")
    view_stub = viewer.stub(SiteViewServiceStub)
    deadline = committed + 10
    while time.perf_counter() < deadline:
        seen = await view_stub.ListBatches(view.ListBatchesRequest(site="syracuse"),
                                           metadata=viewer.metadata)
        if any(b.name == batch.name and b.etag == approved.etag for b in seen.batches):
            console.print(
                f"[bold green]✓[/] Songdo's site view shows {batch.name} approved, "
                f"{(time.perf_counter() - committed) * 1000:.1f} ms after the approval"
            )
            break
        await asyncio.sleep(0.001)
    else:
        console.print("[red]Songdo did not show the approved batch within 10 s")
    return [mes, operator, verifier]


async def leave_in_review(records_at: str, master: str, supervisor: Session) -> str:
    """A second batch, recorded without the second person's check of S1 and submitted: the
    reader's to review (its exception EX-1 needs QA's disposition before approval)."""
    mes = await Session.login(records_at, "syracuse.mes", demo_password("mes"))
    operator = await Session.login(records_at, "syracuse.operator", demo_password("operator"))
    verifier = await Session.login(records_at, "syracuse.verifier", demo_password("verifier"))
    batches = mes.stub(BatchRecordServiceStub)
    batch = (await batches.CreateBatch(batch_api.CreateBatchRequest(
        request_id=str(uuid.uuid4()), master_batch_record=master,
        planned_quantity=_quantity("200", "L")), metadata=mes.metadata)).batch
    values = {
        "S2": {"TCEP": ("2.5", "mol/mol"), "temperature": ("25", "Cel"),
               "hold time": ("90", "min")},
        "S3": {"co-solvent": ("8", "%")},
    }
    for step_id in ("S1", "S2", "S3", "S4"):
        await operator.stub(BatchRecordServiceStub).RecordStep(batch_api.RecordStepRequest(
            request_id=str(uuid.uuid4()), batch=batch.name,
            step=batch_api.StepRecordInput(
                step_id=step_id, equipment=[batch_api.EquipmentUseInput(equipment_id="R-201")],
                parameter_values=[
                    batch_api.ParameterValueInput(name=name, value=_quantity(*value))
                    for name, value in values.get(step_id, {}).items()
                ]),
            signature=signed("operator", "")), metadata=operator.metadata)
        if step_id == "S2":
            await verifier.stub(BatchRecordServiceStub).VerifyStep(batch_api.VerifyStepRequest(
                request_id=str(uuid.uuid4()), batch=batch.name, step_id="S2",
                signature=signed("verifier", "")), metadata=verifier.metadata)
    floor = supervisor.stub(BatchRecordServiceStub)
    await floor.CompleteBatch(batch_api.CompleteBatchRequest(
        request_id=str(uuid.uuid4()), batch=batch.name,
        signature=signed("reviewer", "all steps recorded")), metadata=supervisor.metadata)
    await floor.SubmitBatchForReview(batch_api.SubmitBatchForReviewRequest(
        request_id=str(uuid.uuid4()), batch=batch.name), metadata=supervisor.metadata)
    console.print(f"[bold green]✓[/] {batch.batch_id} recorded (S1 not verified) and "
                  "submitted for review")
    for session in (mes, operator, verifier):
        await session.close()
    return batch.batch_id


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
