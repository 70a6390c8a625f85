"""BatchRecordService: translates requests to use cases and results to responses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import message
from sqlalchemy import Engine
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.batchrecords.v1 import batch_service_pb2_grpc as api_grpc

from services.batch_records.batches import domain, handlers
from services.batch_records.batches import repository as batch_repository
from services.batch_records.batches.domain import Quantity, StepRecord
from services.batch_records.batches.names import batch_id_of
from services.batch_records.batches.pdf import AuditStatus, file_name, render_batch_record
from services.batch_records.batches.translate import (
    SEVERITY_FROM_PROTO,
    STATE_FROM_PROTO,
    batch_to_proto,
    deviation_to_proto,
    exception_to_proto,
    quantity_from_proto,
    step_record_from_proto,
)
from services.batch_records.batchml.production_record import export_batch_production_record
from services.batch_records.master.names import parse_name
from services.common.documents.pdf import UnprintableText
from services.common.domain.clock import utc_now
from services.common.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Violations,
)
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureMeaning
from services.common.grpc.audit_servicer import Witness, unwitnessed, verify_trail
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import (
    decode_position,
    encode_token,
    page_of_messages,
    page_size_of,
)
from services.common.grpc.rpc import enum_filter, mutate, rpc_method
from services.common.grpc.transitions import (
    Checked,
    SignedTransitions,
    Transition,
    transition_rpc,
)
from services.common.identity.directory import UserDirectory
from services.common.persistence.audit import entries_of
from services.common.persistence.database import read, read_session
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.common.sites import Site

CREATOR_ROLES = (Role.SUPERVISOR, Role.INTEGRATION)
DEVIATION_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.QA, Role.INTEGRATION)
DISPOSITION_ROLES = (Role.QA, Role.SUPERVISOR)
OPERATOR_ROLES = (Role.OPERATOR, Role.SUPERVISOR)
CORRECTOR_ROLES = (*domain.EXECUTOR_ROLES, Role.QA)
R = TypeVar("R", bound=message.Message)

RECORD = Transition(domain.EXECUTOR_ROLES, SignatureMeaning.EXECUTED)
VERIFY = Transition(domain.VERIFIER_ROLES, SignatureMeaning.VERIFIED)
CORRECT = Transition(CORRECTOR_ROLES, SignatureMeaning.AUTHORED, reason_required=True)
# QA first: one who holds both decides as QA, not as a proposing supervisor.
DISPOSITION = Transition(
    domain.SUPERVISOR_ROLES, SignatureMeaning.REVIEWED, reason_required=True,
    signer_roles=DISPOSITION_ROLES,
)
CLOSE_DEVIATION = Transition(domain.QA_ROLES, SignatureMeaning.APPROVED)
COMPLETE = Transition((Role.SUPERVISOR,), SignatureMeaning.EXECUTED)
SUBMIT = Transition((Role.SUPERVISOR,))
APPROVE = Transition(domain.QA_ROLES, SignatureMeaning.APPROVED)
REJECT = Transition(domain.QA_ROLES, SignatureMeaning.REJECTED, reason_required=True)


def _answer(response_type: type[R], saved: handlers.Saved) -> R:
    """The batch after a change, with the exceptions it raised where the response lists them."""
    answer: dict[str, object] = {"batch": batch_to_proto(saved.batch)}
    if saved.raised:
        answer["raised"] = [exception_to_proto(exception) for exception in saved.raised]
    return response_type(**answer)


def _change(
    transition: Transition, use_case: Callable[..., handlers.Saved], response_type: type[R],
    fields: tuple[str, ...] = (),
) -> Any:
    """The RPC of a transition of the batch ``request.batch`` names, answered with the batch;
    the use case also gets the request's ``fields``."""
    return transition_rpc(
        transition, response_type, target=lambda request: batch_id_of(request.batch),
        target_name="batch_id", use_case=use_case, answer=_answer, fields=fields,
    )


class BatchRecordServicer(SignedTransitions, api_grpc.BatchRecordServiceServicer):
    def __init__(
        self, *, writer: Writer, engine: Engine, directory: UserDirectory, site: Site,
        witness: Witness = unwitnessed,
    ) -> None:
        super().__init__(writer=writer, engine=engine, directory=directory, site=site)
        self._witness = witness  # the head of this service's audit trail its stream witnessed

    @rpc_method
    async def CreateBatch(
        self, request: api.CreateBatchRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateBatchResponse:
        principal = self._writer_principal(*CREATOR_ROLES)
        record_id, version = parse_name(request.master_batch_record, "master_batch_record")
        if version is None:
            raise InvalidArgument([FieldViolation(
                "master_batch_record", "name the version the batch follows, not 'latest'"
            )])
        planned = None
        if request.HasField("planned_quantity"):
            violations = Violations()
            planned = quantity_from_proto(request.planned_quantity, "planned_quantity", violations)
            violations.raise_if_any()
        return await mutate(
            self._writer, request=request,
            response_type=api.CreateBatchResponse,
            command=lambda uow: _answer(api.CreateBatchResponse, handlers.create(
                uow, principal=principal, site_code=self._site.code, record_id=record_id,
                version=version, planned_quantity=planned,
            )),
        )

    @rpc_method
    async def GetBatch(
        self, request: api.GetBatchRequest, context: grpc.aio.ServicerContext
    ) -> api.GetBatchResponse:
        current_principal()
        batch_id = batch_id_of(request.name, "name")
        batch = read(self._engine, batch_repository.get, batch_id)
        return api.GetBatchResponse(batch=batch_to_proto(batch))

    @rpc_method
    async def ListBatches(
        self, request: api.ListBatchesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListBatchesResponse:
        current_principal()
        size = page_size_of(request.page_size, default=50, maximum=500)
        after = decode_position(request.page_token, int, int)
        state = enum_filter("state", request.state, STATE_FROM_PROTO)
        with read_session(self._engine) as session:
            rows = batch_repository.page(session, state=state, after=after, size=size + 1)
        page = page_of_messages([batch_to_proto(batch) for _, _, batch in rows[:size]], size)
        response = api.ListBatchesResponse(batches=page)
        if len(rows) > len(page):
            year, number, _ = rows[len(page) - 1]
            response.next_page_token = encode_token([year, number])
        return response

    @rpc_method
    async def RecordStep(
        self, request: api.RecordStepRequest, context: grpc.aio.ServicerContext
    ) -> api.RecordStepResponse:
        return await self._record(request, [(request.step, "step")], api.RecordStepResponse)

    @rpc_method
    async def RecordSteps(
        self, request: api.RecordStepsRequest, context: grpc.aio.ServicerContext
    ) -> api.RecordStepsResponse:
        steps = [(step, f"steps[{index}]") for index, step in enumerate(request.steps)]
        return await self._record(request, steps, api.RecordStepsResponse)

    async def _record(
        self, request: api.RecordStepRequest | api.RecordStepsRequest,
        steps: list[tuple[api.StepRecordInput, str]], response_type: type[R],
    ) -> R:
        """One or several steps, signed once by their executor, recorded all or nothing."""

        def target() -> tuple[str, list[StepRecord]]:
            batch_id = batch_id_of(request.batch)
            violations = Violations()
            records = [step_record_from_proto(step, path, violations) for step, path in steps]
            for record, (_, path) in zip(records, steps, strict=True):
                self._check_operator(record.performed_by, f"{path}.performed_by", violations)
            violations.raise_if_any()
            return batch_id, records

        def command(uow: UnitOfWork, checked: Checked[tuple[str, list[StepRecord]]]) -> R:
            batch_id, records = checked.target
            return _answer(response_type, handlers.record_steps(
                uow, principal=checked.principal, batch_id=batch_id, records=records,
                signature=checked.signed,
            ))

        return await self._transition(
            request, RECORD, target=target, response_type=response_type, command=command
        )

    def _check_operator(self, username: str, field: str, violations: Violations) -> None:
        """An operator an integration records for is a person of this site who may execute."""
        if not username:
            return
        user = self._directory.get(username)
        if (
            user is None or not user.active or user.home_site != self._site.id
            or not any(role in user.roles for role in OPERATOR_ROLES)
        ):
            violations.add(field, f"{username!r} is not an operator of this site")

    VerifyStep = _change(
        VERIFY, handlers.verify_step, api.VerifyStepResponse, fields=("step_id",)
    )

    @rpc_method
    async def CorrectParameterValue(
        self, request: api.CorrectParameterValueRequest, context: grpc.aio.ServicerContext
    ) -> api.CorrectParameterValueResponse:
        def target() -> tuple[str, Quantity]:
            batch_id = batch_id_of(request.batch)
            violations = Violations()
            corrected = quantity_from_proto(request.corrected_value, "corrected_value", violations)
            violations.raise_if_any()
            return batch_id, corrected

        def command(
            uow: UnitOfWork, checked: Checked[tuple[str, Quantity]]
        ) -> api.CorrectParameterValueResponse:
            batch_id, corrected = checked.target
            return _answer(api.CorrectParameterValueResponse, handlers.correct_value(
                uow, principal=checked.principal, batch_id=batch_id, step_id=request.step_id,
                parameter=request.parameter, corrected=corrected, signature=checked.signed,
            ))

        return await self._transition(
            request, CORRECT, target=target,
            response_type=api.CorrectParameterValueResponse, command=command,
        )

    @rpc_method
    async def ListExceptions(
        self, request: api.ListExceptionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListExceptionsResponse:
        current_principal()
        batch_id = batch_id_of(request.batch)
        batch = read(self._engine, batch_repository.get, batch_id)
        exceptions = batch.open_exceptions() if request.open_only else list(batch.exceptions)
        return api.ListExceptionsResponse(
            exceptions=[exception_to_proto(exception) for exception in exceptions],
            open_deviations=[deviation_to_proto(d) for d in batch.open_deviations()],
        )

    DispositionException = _change(
        DISPOSITION, handlers.disposition_exception, api.DispositionExceptionResponse,
        fields=("exception_id",),
    )

    @rpc_method
    async def RaiseDeviation(
        self, request: api.RaiseDeviationRequest, context: grpc.aio.ServicerContext
    ) -> api.RaiseDeviationResponse:
        principal = self._writer_principal(*DEVIATION_ROLES)
        batch_id = batch_id_of(request.batch)
        classification = SEVERITY_FROM_PROTO.get(request.classification)

        def command(uow: UnitOfWork) -> api.RaiseDeviationResponse:
            saved, deviation = handlers.raise_deviation(
                uow, principal=principal, batch_id=batch_id, classification=classification,
                title=request.title, description=request.description,
                exception_ids=list(request.exception_ids),
            )
            return api.RaiseDeviationResponse(
                batch=batch_to_proto(saved.batch), deviation=deviation_to_proto(deviation)
            )

        return await mutate(
            self._writer, request=request,
            response_type=api.RaiseDeviationResponse, command=command,
        )

    @rpc_method
    async def UpdateDeviation(
        self, request: api.UpdateDeviationRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateDeviationResponse:
        principal = self._writer_principal(*domain.SUPERVISOR_ROLES)
        batch_id = batch_id_of(request.batch)
        return await mutate(
            self._writer, request=request,
            response_type=api.UpdateDeviationResponse,
            command=lambda uow: _answer(api.UpdateDeviationResponse, handlers.update_deviation(
                uow, principal=principal, batch_id=batch_id, deviation_id=request.deviation_id,
                investigation=request.investigation, capa_reference=request.capa_reference,
            )),
        )

    CloseDeviation = _change(
        CLOSE_DEVIATION, handlers.close_deviation, api.CloseDeviationResponse,
        fields=("deviation_id",),
    )
    CompleteBatch = _change(COMPLETE, handlers.complete, api.CompleteBatchResponse)
    SubmitBatchForReview = _change(
        SUBMIT, handlers.submit_for_review, api.SubmitBatchForReviewResponse
    )
    ApproveBatchRecord = _change(APPROVE, handlers.approve, api.ApproveBatchRecordResponse)
    RejectBatchRecord = _change(REJECT, handlers.reject, api.RejectBatchRecordResponse)

    @rpc_method
    async def ExportBatchProductionRecord(
        self, request: api.ExportBatchProductionRecordRequest,
        context: grpc.aio.ServicerContext,
    ) -> api.ExportBatchProductionRecordResponse:
        current_principal()
        batch_id = batch_id_of(request.batch)
        batch = read(self._engine, batch_repository.get, batch_id)
        # In a thread: a record of a few hundred steps takes tens of milliseconds to build.
        document = await asyncio.to_thread(export_batch_production_record, batch)
        return api.ExportBatchProductionRecordResponse(
            document=document, content_type="application/xml"
        )

    @rpc_method
    async def GetBatchRecordReport(
        self, request: api.GetBatchRecordReportRequest, context: grpc.aio.ServicerContext
    ) -> api.GetBatchRecordReportResponse:
        current_principal()
        batch_id = batch_id_of(request.batch)
        batch = read(self._engine, batch_repository.get, batch_id)
        audit = AuditStatus(
            await verify_trail(self._engine, self._witness),
            read(self._engine, entries_of, batch_id),
        )
        try:
            # In a thread: a record of a few hundred steps takes a while to lay out.
            report = await asyncio.to_thread(
                render_batch_record, batch, site_name=self._site.display_name, audit=audit,
                made=utc_now(),
            )
        except UnprintableText as error:
            raise FailedPrecondition(
                "BATCH_RECORD_UNPRINTABLE", str(error), name=batch.name
            ) from error
        return api.GetBatchRecordReportResponse(
            pdf=report.pdf, media_type="application/pdf", file_name=file_name(batch_id),
            page_count=report.pages,
        )
