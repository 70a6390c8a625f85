"""MasterBatchRecordService: translates requests to use cases and results to responses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1 import master_batch_record_service_pb2_grpc as api_grpc

from services.batch_records import batchml
from services.batch_records.master import domain, handlers, repository
from services.batch_records.master.domain import MasterBatchRecord, RecipeContent
from services.batch_records.master.names import parse_name, version_key
from services.batch_records.master.translate import (
    STATE_FROM_PROTO,
    content_from_proto,
    record_to_proto,
)
from services.common.domain.errors import FieldViolation, InvalidArgument, Violations
from services.common.domain.roles import Principal
from services.common.domain.signatures import SignatureMeaning
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
from services.common.persistence.database import read_session
from services.common.persistence.unit_of_work import UnitOfWork


def _key(name: str, field: str = "name") -> str:
    record_id, version = parse_name(name, field)
    if version is None:
        raise InvalidArgument([FieldViolation(field, "a change names one version, not 'latest'")])
    return version_key(record_id, version)


R = TypeVar(
    "R", api.SubmitMasterBatchRecordForReviewResponse, api.ReviewMasterBatchRecordResponse,
    api.ApproveMasterBatchRecordResponse, api.RejectMasterBatchRecordResponse,
)
C = TypeVar("C", api.CreateMasterBatchRecordResponse, api.ImportMasterRecipeResponse)
SUBMIT = Transition(domain.AUTHOR_ROLES)
REVIEW = Transition(domain.REVIEWER_ROLES, SignatureMeaning.REVIEWED)
APPROVE = Transition(domain.APPROVER_ROLES, SignatureMeaning.APPROVED)
REJECT = Transition(domain.REVIEWER_ROLES, SignatureMeaning.REJECTED, reason_required=True)
MAKE_EFFECTIVE = Transition(domain.APPROVER_ROLES, SignatureMeaning.MADE_EFFECTIVE)


def _answer(response_type: type[R], record: MasterBatchRecord) -> R:
    return response_type(master_batch_record=record_to_proto(record))


def _decision(
    transition: Transition, use_case: Callable[..., MasterBatchRecord], response_type: type[R]
) -> Any:
    """The RPC of a transition of the version ``request.name`` names, answered with it."""
    return transition_rpc(
        transition, response_type, target=lambda request: _key(request.name),
        target_name="key", use_case=use_case, answer=_answer,
    )


class MasterBatchRecordServicer(SignedTransitions, api_grpc.MasterBatchRecordServiceServicer):
    @rpc_method
    async def CreateMasterBatchRecord(
        self, request: api.CreateMasterBatchRecordRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateMasterBatchRecordResponse:
        principal = self._writer_principal(*domain.AUTHOR_ROLES)
        content = content_from_proto(request.master_batch_record)
        domain.validate_content(content)
        return await self._create(request, principal, content, api.CreateMasterBatchRecordResponse)

    async def _create(
        self, request: api.CreateMasterBatchRecordRequest | api.ImportMasterRecipeRequest,
        principal: Principal, content: RecipeContent, response_type: type[C], **answer: Any,
    ) -> C:
        """A new record of ``content``, answered with it (and ``answer``'s other fields)."""
        return await mutate(
            self._writer, request=request, response_type=response_type,
            command=lambda uow: response_type(
                master_batch_record=record_to_proto(handlers.create(
                    uow, principal=principal, site_code=self._site.code, content=content
                )),
                **answer,
            ),
        )

    @rpc_method
    async def CreateMasterBatchRecordVersion(
        self, request: api.CreateMasterBatchRecordVersionRequest,
        context: grpc.aio.ServicerContext,
    ) -> api.CreateMasterBatchRecordVersionResponse:
        principal = self._writer_principal(*domain.AUTHOR_ROLES)
        record_id, _ = parse_name(
            f"masterBatchRecords/{request.record_id}/versions/latest", "record_id"
        )
        return await mutate(
            self._writer, request=request,
            response_type=api.CreateMasterBatchRecordVersionResponse,
            command=lambda uow: api.CreateMasterBatchRecordVersionResponse(
                master_batch_record=record_to_proto(
                    handlers.create_version(uow, principal=principal, record_id=record_id)
                )
            ),
        )

    @rpc_method
    async def UpdateMasterBatchRecord(
        self, request: api.UpdateMasterBatchRecordRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateMasterBatchRecordResponse:
        principal = self._writer_principal(*domain.AUTHOR_ROLES)
        violations = Violations()
        try:
            key = _key(request.master_batch_record.name, "master_batch_record.name")
        except InvalidArgument as bad:
            violations.items.extend(bad.violations)
        if not request.master_batch_record.etag:
            violations.add("master_batch_record.etag", "is required (from the last read)")
        if not request.update_mask.paths:
            violations.add("update_mask", "name the fields to change")
        violations.raise_if_any()
        content = content_from_proto(request.master_batch_record)
        paths = frozenset(request.update_mask.paths)
        return await mutate(
            self._writer, request=request,
            response_type=api.UpdateMasterBatchRecordResponse,
            command=lambda uow: api.UpdateMasterBatchRecordResponse(
                master_batch_record=record_to_proto(
                    handlers.update(
                        uow, principal=principal, key=key, content=content, paths=paths,
                        etag=request.master_batch_record.etag,
                    )
                )
            ),
        )

    SubmitMasterBatchRecordForReview = _decision(
        SUBMIT, handlers.submit, api.SubmitMasterBatchRecordForReviewResponse
    )
    ReviewMasterBatchRecord = _decision(
        REVIEW, handlers.review, api.ReviewMasterBatchRecordResponse
    )
    ApproveMasterBatchRecord = _decision(
        APPROVE, handlers.approve, api.ApproveMasterBatchRecordResponse
    )
    RejectMasterBatchRecord = _decision(
        REJECT, handlers.reject, api.RejectMasterBatchRecordResponse
    )

    @rpc_method
    async def MakeMasterBatchRecordEffective(
        self, request: api.MakeMasterBatchRecordEffectiveRequest,
        context: grpc.aio.ServicerContext,
    ) -> api.MakeMasterBatchRecordEffectiveResponse:
        def command(
            uow: UnitOfWork, checked: Checked[str]
        ) -> api.MakeMasterBatchRecordEffectiveResponse:
            effective, superseded = handlers.make_effective(uow, **checked.arguments("key"))
            return api.MakeMasterBatchRecordEffectiveResponse(
                master_batch_record=record_to_proto(effective),
                superseded=superseded.name if superseded else "",
            )

        return await self._transition(
            request, MAKE_EFFECTIVE, target=lambda: _key(request.name),
            response_type=api.MakeMasterBatchRecordEffectiveResponse, command=command,
        )

    def _read(self, name: str) -> MasterBatchRecord:
        """The version ``name`` names, or the latest one."""
        record_id, version = parse_name(name)
        with read_session(self._engine) as session:
            if version is None:
                return repository.latest(session, record_id)
            return repository.get(session, version_key(record_id, version))

    @rpc_method
    async def GetMasterBatchRecord(
        self, request: api.GetMasterBatchRecordRequest, context: grpc.aio.ServicerContext
    ) -> api.GetMasterBatchRecordResponse:
        current_principal()
        record = self._read(request.name)
        return api.GetMasterBatchRecordResponse(master_batch_record=record_to_proto(record))

    @rpc_method
    async def ListMasterBatchRecords(
        self, request: api.ListMasterBatchRecordsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListMasterBatchRecordsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=50, maximum=500)
        after = decode_position(request.page_token, int, int)
        state = enum_filter("state", request.state, STATE_FROM_PROTO)
        filters = domain.ListFilter(
            state=state, product=request.product, record_id=request.record_id
        )
        with read_session(self._engine) as session:
            records = repository.page(session, filters, after=after, size=size + 1)
        page = page_of_messages([record_to_proto(record) for record in records[:size]], size)
        response = api.ListMasterBatchRecordsResponse(master_batch_records=page)
        if len(records) > len(page):
            last = records[len(page) - 1]
            response.next_page_token = encode_token([_number(last.record_id), last.version])
        return response

    @rpc_method
    async def ExportMasterRecipe(
        self, request: api.ExportMasterRecipeRequest, context: grpc.aio.ServicerContext
    ) -> api.ExportMasterRecipeResponse:
        current_principal()
        record = self._read(request.name)
        return api.ExportMasterRecipeResponse(
            document=batchml.export_master_recipe(record), content_type="application/xml"
        )

    @rpc_method
    async def ImportMasterRecipe(
        self, request: api.ImportMasterRecipeRequest, context: grpc.aio.ServicerContext
    ) -> api.ImportMasterRecipeResponse:
        principal = self._writer_principal(*domain.AUTHOR_ROLES)
        # In a thread: the schema loads once (about a second) and validation is CPU work.
        imported = await asyncio.to_thread(batchml.read_master_recipe, request.document)
        content = imported.content
        domain.validate_content(content, prefix="document")
        return await self._create(
            request, principal, content, api.ImportMasterRecipeResponse,
            warnings=imported.warnings,
        )


def _number(record_id: str) -> int:
    return int(record_id.rsplit("-", 1)[1])


