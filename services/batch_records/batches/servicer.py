"""BatchRecordService and EquipmentService: translate requests to use cases and back."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import grpc
from sqlalchemy import Engine
from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.batchrecords.v1 import batch_service_pb2_grpc as api_grpc
from twinline.batchrecords.v1 import equipment_service_pb2 as equipment_api
from twinline.batchrecords.v1 import equipment_service_pb2_grpc as equipment_grpc

from services.batch_records.batches import domain, handlers
from services.batch_records.batches import repository as batch_repository
from services.batch_records.batches.names import batch_id_of
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
from services.common.domain import bounds
from services.common.domain.errors import FieldViolation, InvalidArgument, Violations
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureMeaning
from services.common.grpc.auth import current_principal, site_writer
from services.common.grpc.paging import (
    decode_position,
    encode_token,
    page_of_messages,
    page_size_of,
)
from services.common.grpc.rpc import SiteWriting, enum_filter, mutate, rpc_method
from services.common.persistence.database import read_session
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.common.sites import Site

CREATOR_ROLES = (Role.SUPERVISOR, Role.INTEGRATION)
R = TypeVar("R", api.RecordStepResponse, api.RecordStepsResponse)
DEVIATION_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.QA, Role.INTEGRATION)
EQUIPMENT_ROLES = (Role.SUPERVISOR, Role.ADMIN)
DISPOSITION_ROLES = (Role.QA, Role.SUPERVISOR)
OPERATOR_ROLES = (Role.OPERATOR, Role.SUPERVISOR)


def _raised(saved: handlers.Saved) -> list[pb.BatchException]:
    return [exception_to_proto(exception) for exception in saved.raised]


class BatchRecordServicer(SiteWriting, api_grpc.BatchRecordServiceServicer):
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
            command=lambda uow: api.CreateBatchResponse(batch=handlers.create(
                uow, principal=principal, site_code=self._site.code, record_id=record_id,
                version=version, planned_quantity=planned,
            ).batch),
        )

    @rpc_method
    async def GetBatch(
        self, request: api.GetBatchRequest, context: grpc.aio.ServicerContext
    ) -> api.GetBatchResponse:
        current_principal()
        batch_id = batch_id_of(request.name, "name")
        with read_session(self._engine) as session:
            batch = batch_repository.get(session, batch_id)
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
        return await self._record(
            request, [(request.step, "step")], api.RecordStepResponse
        )

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
        principal = self._writer_principal(*domain.EXECUTOR_ROLES)
        batch_id = batch_id_of(request.batch)
        violations = Violations()
        records = [step_record_from_proto(step, path, violations) for step, path in steps]
        for record, (_, path) in zip(records, steps, strict=True):
            self._check_operator(record.performed_by, f"{path}.performed_by", violations)
        violations.raise_if_any()
        signature = await self._sign(
            principal, request.signature, SignatureMeaning.EXECUTED, domain.EXECUTOR_ROLES
        )

        def command(uow: UnitOfWork) -> R:
            saved = handlers.record_steps(
                uow, principal=principal, batch_id=batch_id, records=records,
                signature=signature,
            )
            return response_type(batch=saved.batch, raised=_raised(saved))

        return await mutate(
            self._writer, request=request,
            response_type=response_type, command=command,
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

    @rpc_method
    async def VerifyStep(
        self, request: api.VerifyStepRequest, context: grpc.aio.ServicerContext
    ) -> api.VerifyStepResponse:
        principal = self._writer_principal(*domain.VERIFIER_ROLES)
        batch_id = batch_id_of(request.batch)
        signature = await self._sign(
            principal, request.signature, SignatureMeaning.VERIFIED, domain.VERIFIER_ROLES
        )
        return await mutate(
            self._writer, request=request,
            response_type=api.VerifyStepResponse,
            command=lambda uow: api.VerifyStepResponse(batch=handlers.verify_step(
                uow, principal=principal, batch_id=batch_id, step_id=request.step_id,
                signature=signature,
            ).batch),
        )

    @rpc_method
    async def CorrectParameterValue(
        self, request: api.CorrectParameterValueRequest, context: grpc.aio.ServicerContext
    ) -> api.CorrectParameterValueResponse:
        roles = (*domain.EXECUTOR_ROLES, Role.QA)
        principal = self._writer_principal(*roles)
        batch_id = batch_id_of(request.batch)
        violations = Violations()
        corrected = quantity_from_proto(request.corrected_value, "corrected_value", violations)
        violations.raise_if_any()
        signature = await self._sign(
            principal, request.signature, SignatureMeaning.AUTHORED, roles, reason_required=True
        )

        def command(uow: UnitOfWork) -> api.CorrectParameterValueResponse:
            saved = handlers.correct_value(
                uow, principal=principal, batch_id=batch_id, step_id=request.step_id,
                parameter=request.parameter, corrected=corrected, signature=signature,
            )
            return api.CorrectParameterValueResponse(batch=saved.batch, raised=_raised(saved))

        return await mutate(
            self._writer, request=request,
            response_type=api.CorrectParameterValueResponse, command=command,
        )

    @rpc_method
    async def ListExceptions(
        self, request: api.ListExceptionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListExceptionsResponse:
        current_principal()
        batch_id = batch_id_of(request.batch)
        with read_session(self._engine) as session:
            batch = batch_repository.get(session, batch_id)
        exceptions = batch.open_exceptions() if request.open_only else list(batch.exceptions)
        return api.ListExceptionsResponse(
            exceptions=[exception_to_proto(exception) for exception in exceptions],
            open_deviations=[deviation_to_proto(d) for d in batch.open_deviations()],
        )

    @rpc_method
    async def DispositionException(
        self, request: api.DispositionExceptionRequest, context: grpc.aio.ServicerContext
    ) -> api.DispositionExceptionResponse:
        principal = self._writer_principal(*domain.SUPERVISOR_ROLES)
        batch_id = batch_id_of(request.batch)
        # QA first: one who holds both decides as QA, not as a proposing supervisor.
        signature = await self._sign(
            principal, request.signature, SignatureMeaning.REVIEWED, DISPOSITION_ROLES,
            reason_required=True,
        )
        return await mutate(
            self._writer, request=request,
            response_type=api.DispositionExceptionResponse,
            command=lambda uow: api.DispositionExceptionResponse(
                batch=handlers.disposition_exception(
                    uow, principal=principal, batch_id=batch_id,
                    exception_id=request.exception_id, signature=signature,
                ).batch
            ),
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
                batch=saved.batch, deviation=deviation_to_proto(deviation)
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
            command=lambda uow: api.UpdateDeviationResponse(batch=handlers.update_deviation(
                uow, principal=principal, batch_id=batch_id, deviation_id=request.deviation_id,
                investigation=request.investigation, capa_reference=request.capa_reference,
            ).batch),
        )

    @rpc_method
    async def CloseDeviation(
        self, request: api.CloseDeviationRequest, context: grpc.aio.ServicerContext
    ) -> api.CloseDeviationResponse:
        principal = self._writer_principal(*domain.QA_ROLES)
        batch_id = batch_id_of(request.batch)
        signature = await self._sign(
            principal, request.signature, SignatureMeaning.APPROVED, domain.QA_ROLES
        )
        return await mutate(
            self._writer, request=request,
            response_type=api.CloseDeviationResponse,
            command=lambda uow: api.CloseDeviationResponse(batch=handlers.close_deviation(
                uow, principal=principal, batch_id=batch_id, deviation_id=request.deviation_id,
                signature=signature,
            ).batch),
        )

    @rpc_method
    async def CompleteBatch(
        self, request: api.CompleteBatchRequest, context: grpc.aio.ServicerContext
    ) -> api.CompleteBatchResponse:
        principal = self._writer_principal(Role.SUPERVISOR)
        batch_id = batch_id_of(request.batch)
        signature = await self._sign(
            principal, request.signature, SignatureMeaning.EXECUTED, (Role.SUPERVISOR,)
        )

        def command(uow: UnitOfWork) -> api.CompleteBatchResponse:
            saved = handlers.complete(
                uow, principal=principal, batch_id=batch_id, signature=signature
            )
            return api.CompleteBatchResponse(batch=saved.batch, raised=_raised(saved))

        return await mutate(
            self._writer, request=request,
            response_type=api.CompleteBatchResponse, command=command,
        )

    @rpc_method
    async def SubmitBatchForReview(
        self, request: api.SubmitBatchForReviewRequest, context: grpc.aio.ServicerContext
    ) -> api.SubmitBatchForReviewResponse:
        principal = self._writer_principal(Role.SUPERVISOR)
        batch_id = batch_id_of(request.batch)
        return await mutate(
            self._writer, request=request,
            response_type=api.SubmitBatchForReviewResponse,
            command=lambda uow: api.SubmitBatchForReviewResponse(
                batch=handlers.submit_for_review(uow, principal=principal, batch_id=batch_id).batch
            ),
        )

    @rpc_method
    async def ApproveBatchRecord(
        self, request: api.ApproveBatchRecordRequest, context: grpc.aio.ServicerContext
    ) -> api.ApproveBatchRecordResponse:
        principal = self._writer_principal(*domain.QA_ROLES)
        batch_id = batch_id_of(request.batch)
        signature = await self._sign(
            principal, request.signature, SignatureMeaning.APPROVED, domain.QA_ROLES
        )
        return await mutate(
            self._writer, request=request,
            response_type=api.ApproveBatchRecordResponse,
            command=lambda uow: api.ApproveBatchRecordResponse(batch=handlers.approve(
                uow, principal=principal, batch_id=batch_id, signature=signature
            ).batch),
        )

    @rpc_method
    async def RejectBatchRecord(
        self, request: api.RejectBatchRecordRequest, context: grpc.aio.ServicerContext
    ) -> api.RejectBatchRecordResponse:
        principal = self._writer_principal(*domain.QA_ROLES)
        batch_id = batch_id_of(request.batch)
        signature = await self._sign(
            principal, request.signature, SignatureMeaning.REJECTED, domain.QA_ROLES,
            reason_required=True,
        )
        return await mutate(
            self._writer, request=request,
            response_type=api.RejectBatchRecordResponse,
            command=lambda uow: api.RejectBatchRecordResponse(batch=handlers.reject(
                uow, principal=principal, batch_id=batch_id, signature=signature
            ).batch),
        )

    @rpc_method
    async def ExportBatchProductionRecord(
        self, request: api.ExportBatchProductionRecordRequest,
        context: grpc.aio.ServicerContext,
    ) -> api.ExportBatchProductionRecordResponse:
        current_principal()
        batch_id = batch_id_of(request.batch)
        with read_session(self._engine) as session:
            batch = batch_repository.get(session, batch_id)
        # In a thread: a record of a few hundred steps takes tens of milliseconds to build.
        document = await asyncio.to_thread(export_batch_production_record, batch)
        return api.ExportBatchProductionRecordResponse(
            document=document, content_type="application/xml"
        )


class EquipmentServicer(equipment_grpc.EquipmentServiceServicer):
    def __init__(self, *, writer: Writer, engine: Engine, site: Site) -> None:
        self._writer = writer
        self._engine = engine
        self._site = site

    @rpc_method
    async def SetEquipment(
        self, request: equipment_api.SetEquipmentRequest, context: grpc.aio.ServicerContext
    ) -> equipment_api.SetEquipmentResponse:
        principal = site_writer(self._site.id, *EQUIPMENT_ROLES)
        violations = Violations()
        bounds.text("equipment.equipment_id", request.equipment.equipment_id, bounds.ID_LEN,
                    violations, required=True)
        bounds.text("equipment.description", request.equipment.description, bounds.NAME_LEN,
                    violations)
        if request.equipment.status == equipment_api.EQUIPMENT_STATUS_UNSPECIFIED:
            violations.add("equipment.status", "is required")
        violations.raise_if_any()
        return await mutate(
            self._writer, request=request, response_type=equipment_api.SetEquipmentResponse,
            command=lambda uow: equipment_api.SetEquipmentResponse(
                equipment=handlers.set_equipment(
                    uow, principal=principal, equipment=request.equipment
                )
            ),
        )

    @rpc_method
    async def ListEquipment(
        self, request: equipment_api.ListEquipmentRequest, context: grpc.aio.ServicerContext
    ) -> equipment_api.ListEquipmentResponse:
        current_principal()
        size = page_size_of(request.page_size, default=500, maximum=1000)
        after = decode_position(request.page_token, str)
        with read_session(self._engine) as session:
            rows = batch_repository.list_equipment(
                session, after=None if after is None else after[0], size=size + 1
            )
        page = page_of_messages(
            [
                equipment_api.Equipment(
                    equipment_id=equipment_id, description=description,
                    status=equipment_api.EquipmentStatus.Value(f"EQUIPMENT_STATUS_{status}"),
                )
                for equipment_id, description, status in rows[:size]
            ],
            size,
        )
        response = equipment_api.ListEquipmentResponse(equipment=page)
        if len(rows) > len(page):
            response.next_page_token = encode_token([page[-1].equipment_id])
        return response
