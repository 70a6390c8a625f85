"""``twinline batch``: executed batch records — every site's batches (the site view), one
batch's steps with their values, signatures, exceptions, corrections and deviations, and the
signed acts of the floor and of QA: record a step, verify it, approve the record.

Each signature asks for the password again (21 CFR 11.200). The service enforces every rule
(limits, units, four eyes, the order of steps); the tool shows what it answered: the
exceptions a record raised, or a refusal with each wrong field and unmet condition.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.batchrecords.v1.batch_service_pb2_grpc import BatchRecordServiceStub
from twinline.common.v1 import quantity_pb2
from twinline.siteview.v1 import site_view_service_pb2 as view_api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.cli.common import (
    CALL_TIMEOUT_S,
    LIST_PAGE_SIZE,
    AddressOption,
    OutputOption,
    PasswordFdOption,
    SiteOption,
    Target,
    UserOption,
    ViewOption,
    as_dict,
    checked_output,
    console,
    pages,
    print_json,
    reader,
    signature,
    utc,
)
from services.cli.record_text import (
    limits,
    manifestation,
    quantity,
    say,
    steps_of,
    version_label,
)
from services.cli.review import BatchArgument, batch_name, print_approved, signed_decision
from services.client.session import Session
from services.devstack.topology import SITE_VIEW

batch_app = typer.Typer(
    help="Executed batch records: list, show, record and verify steps, approve.",
    no_args_is_help=True,
)

StepArgument = Annotated[str, typer.Argument(help="The step's id in the recipe, e.g. S1.")]
# NAME=VALUE followed by its UCUM unit, e.g. temperature=25Cel, TCEP=2.5 mol/mol, pH=7.1[pH];
# a unit that starts with a digit (10*3/uL) after a space, so "2,5Cel" is no value "2".
VALUE = re.compile(r"(?P<name>[^=]+)=(?P<value>[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
                   r"(?P<unit>(?:\s+\S+|[A-Za-z%\['][^\s]*)?)", re.ASCII)
# MATERIAL@LOT=QUANTITY UNIT, e.g. TCEP-0.5M@L-TCEP-0113=1.2L.
MATERIAL = re.compile(r"(?P<material>[^@=]+)@(?P<lot>[^=]+)=(?P<value>[0-9]+(?:\.[0-9]+)?)"
                      r"\s*(?P<unit>\S+)", re.ASCII)


class State(StrEnum):
    created = "created"
    in_progress = "in-progress"
    on_hold = "on-hold"
    completed = "completed"
    in_review = "in-review"
    approved = "approved"
    rejected = "rejected"

    @property
    def number(self) -> pb.BatchState.ValueType:
        return pb.BatchState.Value("BATCH_STATE_" + self.name.upper())


def state_of(batch: pb.Batch) -> str:
    return pb.BatchState.Name(batch.state).removeprefix("BATCH_STATE_")


@batch_app.command("list")
def list_batches(
    state: Annotated[State | None, typer.Option("--state", help="Only batches in this state.")]
    = None,
    site_of_origin: Annotated[str | None, typer.Option(
        "--site-of-origin", help="Only batches of this home site.")] = None,
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """Every site's batches as this site's view has them (--address: the site view's)."""
    checked_output(output)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> list[pb.Batch]:
        stub = session.stub(SiteViewServiceStub)
        return [found async for page in pages(lambda token: stub.ListBatches(
            view_api.ListBatchesRequest(
                site=site_of_origin or "", page_size=LIST_PAGE_SIZE, page_token=token,
                state=state.number if state else pb.BATCH_STATE_UNSPECIFIED,
            ),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S,
        )) for found in page.batches]

    batches = target.run(work)
    if output == "json":
        print_json({"site": target.site, "batches": [
            {"name": batch.name, "batch_id": batch.batch_id, "home_site": batch.home_site,
             "master_batch_record": batch.master_batch_record,
             "state": pb.BatchState.Name(batch.state), "steps_done": _done(batch),
             "steps": len(batch.steps), "open_exceptions": _open(batch),
             "update_time": utc(batch.update_time)}
            for batch in batches]})
        return
    if not batches:
        console.print(f"{target.site}'s site view holds no batch" + (
            " of that kind" if state or site_of_origin else ""))
        return
    # 80 columns hold every cell whole: ids and names do not wrap.
    table = Table(title=f"Batches as {target.site}'s site view has them", pad_edge=False)
    table.add_column("site", no_wrap=True)
    table.add_column("batch", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("steps", no_wrap=True, justify="right")
    table.add_column("open\nexcep.", no_wrap=True, justify="right")
    table.add_column("master record", no_wrap=True)
    for batch in batches:
        table.add_row(batch.home_site, batch.batch_id, state_of(batch),
                      f"{_done(batch)}/{len(batch.steps)}", str(_open(batch)),
                      version_label(batch.master_batch_record))
    console.print(table)


def _done(batch: pb.Batch) -> int:
    return sum(step.status == pb.STEP_STATUS_COMPLETE for step in batch.steps)


def _open(batch: pb.Batch) -> int:
    return sum(not exception.HasField("disposition") for exception in batch.exceptions)


@batch_app.command("show")
def show(
    batch: BatchArgument,
    view: ViewOption = False,
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """A batch: steps, values and limits, signatures, exceptions, corrections, deviations."""
    checked_output(output)
    target = reader(batch, view, site, user, address)

    async def work(session: Session) -> pb.Batch:
        if view:
            seen = await session.stub(SiteViewServiceStub).GetBatch(
                view_api.GetBatchRequest(name=batch_name(batch)), metadata=session.metadata,
                timeout=CALL_TIMEOUT_S)
            return seen.batch
        answer = await session.stub(BatchRecordServiceStub).GetBatch(
            api.GetBatchRequest(name=batch_name(batch)), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S)
        return answer.batch

    found = target.run(work)
    if output == "json":
        print_json(as_dict(found))
        return
    print_batch(found)


def print_batch(found: pb.Batch) -> None:
    """The executed record, in recipe order; lines, so texts are read whole at any width."""
    say(f"{found.batch_id} {found.control_recipe.title} — {state_of(found)}")
    say(f"  home site {found.home_site} · {version_label(found.master_batch_record)} · planned "
        f"{quantity(found.planned_quantity)} · created by {found.created_by} at "
        f"{utc(found.create_time)}")
    executions = {execution.step_id: execution for execution in found.steps}
    for path, step in steps_of(found.control_recipe):
        execution = executions.get(step.id, pb.StepExecution(step_id=step.id))
        status = pb.StepStatus.Name(execution.status).removeprefix("STEP_STATUS_")
        needs = " (needs a verifier)" if step.requires_verification else ""
        say(f"{path} {step.name}: {status}{needs}")
        _print_execution(step, execution)
        for exception in found.exceptions:
            if exception.step_id == step.id:
                say(f"    ⚠ {_exception(exception)}")
    say(f"Exceptions ({len(found.exceptions)})" if found.exceptions else "no exceptions")
    for exception in found.exceptions:
        say(f"  {_exception(exception)}")
        say(f"      {_disposition(exception)}")
    say(f"Deviations ({len(found.deviations)})" if found.deviations else "no deviations")
    for deviation in found.deviations:
        state = pb.DeviationState.Name(deviation.state).removeprefix("DEVIATION_STATE_")
        say(
            f"  {deviation.id} {state} · {_severity(deviation.classification)} · "
            f"{deviation.title} · from {', '.join(deviation.exception_ids) or '—'} · raised by "
            f"{deviation.raised_by} at {utc(deviation.raise_time)}")
        if deviation.description:
            say(f"      {deviation.description}")
        say(f"      investigation: {deviation.investigation or '—'} · CAPA: "
            f"{deviation.capa_reference or '—'}")
        if deviation.HasField("closure"):
            say(f"      closed: {manifestation(deviation.closure)}")
    say("Signatures" if found.signatures else "no batch signatures yet")
    for signed in found.signatures:
        say(f"  {manifestation(signed)}")
    for disposition in found.dispositions:
        decision = pb.BatchDispositionDecision.Name(disposition.decision).removeprefix(
            "BATCH_DISPOSITION_DECISION_")
        say(f"  disposition {decision}: {manifestation(disposition.signature)}")


def _print_execution(step: mbr_pb.Step, execution: pb.StepExecution) -> None:
    parameters = {parameter.name: parameter for parameter in step.parameters}
    for value in execution.parameter_values:
        declared = parameters.get(value.name)
        bounds = (f" (target {declared.target or '—'} {declared.unit}, limits "
                  f"{limits(declared)})") if declared is not None else ""
        say(f"    • {value.name} = {quantity(value.value)}{bounds}")
        for correction in value.corrections:
            say(
                f"      corrected {quantity(correction.previous_value)} → "
                f"{quantity(correction.corrected_value)}: {manifestation(correction.signature)}")
    for material in execution.materials:
        say(f"    • added {material.material} lot {material.lot_id}: "
            f"{quantity(material.quantity)}")
    for use in execution.equipment:
        override = f", overridden: {use.override_reason}" if use.override_reason else ""
        say(f"    • equipment {use.equipment_id} ({use.status_at_use}{override})")
    if execution.comment:
        say(f"    comment: {execution.comment}")
    if execution.HasField("executed"):
        performed = (f", performed by {execution.performed_by}"
                     if execution.performed_by != execution.executed.signer else "")
        say(f"    {manifestation(execution.executed)}{performed}; performed "
            f"{utc(execution.perform_time)}")
    if execution.HasField("verified"):
        say(f"    {manifestation(execution.verified)}")


def _exception(exception: pb.BatchException) -> str:
    kind = pb.ExceptionKind.Name(exception.kind).removeprefix("EXCEPTION_KIND_")
    return (f"{exception.id} {kind} {_severity(exception.severity)} · step "
            f"{exception.step_id or '—'} · {exception.description} · raised "
            f"{utc(exception.raise_time)}")


def _severity(severity: pb.Severity.ValueType) -> str:
    return pb.Severity.Name(severity).removeprefix("SEVERITY_")


def _disposition(exception: pb.BatchException) -> str:
    if exception.HasField("disposition"):
        return f"dispositioned: {manifestation(exception.disposition)}"
    if exception.HasField("proposed_disposition"):
        return f"open; proposed: {manifestation(exception.proposed_disposition)}"
    return "open"


def parameter_value(text: str) -> tuple[str, str, str]:
    """(name, value, unit) of ``--value NAME=VALUE[UNIT]``; a bad one is a usage error."""
    match = VALUE.fullmatch(text.strip())
    if match is None:
        raise typer.BadParameter(
            f"{text!r}: give NAME=VALUE and its unit, e.g. temperature=25Cel", param_hint="--value")
    return match["name"].strip(), match["value"], match["unit"].strip()


def material_addition(text: str) -> pb.MaterialAddition:
    match = MATERIAL.fullmatch(text.strip())
    if match is None:
        raise typer.BadParameter(
            f"{text!r}: give MATERIAL@LOT=QUANTITY UNIT, e.g. TCEP-0.5M@L-2026-0113=1.2L",
            param_hint="--material")
    return pb.MaterialAddition(
        material=match["material"].strip(), lot_id=match["lot"].strip(),
        quantity=quantity_pb2.Quantity(value=match["value"], unit=match["unit"]))


def equipment_use(text: str) -> api.EquipmentUseInput:
    equipment_id, _, override_reason = text.partition(":")
    return api.EquipmentUseInput(equipment_id=equipment_id.strip(),
                                 override_reason=override_reason.strip())


@batch_app.command("record-step")
def record_step(
    batch: BatchArgument,
    step: StepArgument,
    value: Annotated[list[str] | None, typer.Option(
        "--value", help="NAME=VALUE and its UCUM unit, e.g. temperature=25Cel; repeat for each "
                        "parameter. Without a unit, the unit the recipe declares.")] = None,
    material: Annotated[list[str] | None, typer.Option(
        "--material", help="MATERIAL@LOT=QUANTITY UNIT, e.g. TCEP-0.5M@L-2026-0113=1.2L.")]
    = None,
    equipment: Annotated[list[str] | None, typer.Option(
        "--equipment", help="ID, or ID:REASON to use equipment its status does not allow "
                            "(raises an exception).")] = None,
    comment: Annotated[str, typer.Option("--comment", help="What the record should say.")] = "",
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """Records a step, signed by you as its executor; the exceptions it raised are shown."""
    checked_output(output)
    values = [parameter_value(given) for given in value or []]
    materials = [material_addition(given) for given in material or []]
    uses = [equipment_use(given) for given in equipment or []]
    target = Target(site, user, address)

    async def work(session: Session) -> api.RecordStepResponse:
        stub = session.stub(BatchRecordServiceStub)
        current = (await stub.GetBatch(api.GetBatchRequest(name=batch_name(batch)),
                                       metadata=session.metadata,
                                       timeout=CALL_TIMEOUT_S)).batch
        declared = {parameter.name: parameter.unit
                    for _, recipe_step in steps_of(current.control_recipe)
                    if recipe_step.id == step for parameter in recipe_step.parameters}
        record = api.StepRecordInput(
            step_id=step, comment=comment, materials=materials, equipment=uses,
            parameter_values=[
                api.ParameterValueInput(name=name, value=quantity_pb2.Quantity(
                    value=number, unit=unit or declared.get(name, "")))
                for name, number, unit in values],
        )
        answer: api.RecordStepResponse = await stub.RecordStep(
            api.RecordStepRequest(request_id=str(uuid.uuid4()), batch=current.name, step=record,
                                  signature=signature("executed", "", password_fd)),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S)
        return answer

    recorded = target.run(work)
    if output == "json":
        print_json({"batch_id": recorded.batch.batch_id,
                    "state": pb.BatchState.Name(recorded.batch.state),
                    "step": as_dict(next(s for s in recorded.batch.steps if s.step_id == step)),
                    "raised": [as_dict(exception) for exception in recorded.raised]})
        return
    execution = next(s for s in recorded.batch.steps if s.step_id == step)
    say(f"✓ {recorded.batch.batch_id} step {step} recorded: "
        f"{manifestation(execution.executed)}")
    for recorded_value in execution.parameter_values:
        say(f"  • {recorded_value.name} = {quantity(recorded_value.value)}")
    for exception in recorded.raised:
        say(f"⚠ raised {_exception(exception)}")
    say(f"{recorded.batch.batch_id} is {state_of(recorded.batch)}")


@batch_app.command("verify")
def verify(
    batch: BatchArgument,
    step: StepArgument,
    reason: Annotated[str, typer.Option("--reason", help="What you checked.")] = "",
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """Verifies an executed step as the second person (never its executor), e-signed."""
    checked_output(output)
    verified = signed_decision(
        Target(site, user, address), "VerifyStep", api.VerifyStepRequest, batch, "verified",
        reason, None, password_fd, step_id=step,
    )
    execution = next(s for s in verified.steps if s.step_id == step)
    if output == "json":
        print_json({"batch_id": verified.batch_id, "state": pb.BatchState.Name(verified.state),
                    "step": as_dict(execution)})
        return
    say(f"✓ {verified.batch_id} step {step}: {manifestation(execution.verified)}")


@batch_app.command("approve")
def approve(
    batch: BatchArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, in your words.")] = "",
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """Approves a batch record (QA, e-signature); a refusal lists every unmet condition.

    The service judges the record whole — its state, each open exception and deviation — so
    nothing is checked here first."""
    checked_output(output)
    approved = signed_decision(
        Target(site, user, address), "ApproveBatchRecord", api.ApproveBatchRecordRequest,
        batch, "APPROVED", reason, None, password_fd,
    )
    print_approved(approved, output)
