"""InvestigationService: translates requests to use cases and results to responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import release_testing_service_pb2_grpc as api_grpc

from services.batch_records.batches.names import batch_id_of
from services.common.domain.signatures import SignatureMeaning
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import decode_position, page_of_keyed, page_size_of
from services.common.grpc.rpc import rpc_method
from services.common.grpc.transitions import Checked, SignedTransitions, Transition
from services.common.persistence.database import read_session
from services.common.persistence.unit_of_work import UnitOfWork
from services.release_testing.investigations import domain, handlers, repository
from services.release_testing.investigations.domain import Investigation
from services.release_testing.investigations.names import investigation_id_of
from services.release_testing.investigations.translate import (
    PLAN_FROM_PROTO,
    causes_from_proto,
    investigation_to_proto,
)

CONCLUDE_PHASE_ONE = Transition(domain.PHASE_ONE_ROLES, SignatureMeaning.REVIEWED)
REVIEW_MANUFACTURING = Transition(domain.PHASE_TWO_ROLES, SignatureMeaning.REVIEWED)
APPROVE_PLAN = Transition(domain.PHASE_TWO_ROLES, SignatureMeaning.APPROVED)
CONCLUDE_PHASE_TWO = Transition(domain.PHASE_TWO_ROLES, SignatureMeaning.APPROVED)


class InvestigationServicer(SignedTransitions, api_grpc.InvestigationServiceServicer):
    async def _step(self, request: Any, transition: Transition, response_type: type[Any],
                    use_case: Callable[..., Investigation], **fields: object) -> Any:
        def command(uow: UnitOfWork, checked: Checked[str]) -> Any:
            return response_type(investigation=investigation_to_proto(
                use_case(uow, **checked.arguments("key"), **fields)))

        return await self._transition(
            request, transition, target=lambda: investigation_id_of(request.name),
            response_type=response_type, command=command,
        )

    @rpc_method
    async def ConcludePhaseOne(
        self, request: api.ConcludePhaseOneRequest, context: grpc.aio.ServicerContext
    ) -> api.ConcludePhaseOneResponse:
        return await self._step(  # type: ignore[no-any-return]
            request, CONCLUDE_PHASE_ONE, api.ConcludePhaseOneResponse,
            handlers.conclude_phase_one, causes=causes_from_proto(list(request.causes)),
            summary=request.summary,
        )

    @rpc_method
    async def RecordManufacturingReview(
        self, request: api.RecordManufacturingReviewRequest, context: grpc.aio.ServicerContext
    ) -> api.RecordManufacturingReviewResponse:
        return await self._step(  # type: ignore[no-any-return]
            request, REVIEW_MANUFACTURING, api.RecordManufacturingReviewResponse,
            handlers.record_manufacturing_review, review=request.review,
        )

    @rpc_method
    async def ApproveTestPlan(
        self, request: api.ApproveTestPlanRequest, context: grpc.aio.ServicerContext
    ) -> api.ApproveTestPlanResponse:
        return await self._step(  # type: ignore[no-any-return]
            request, APPROVE_PLAN, api.ApproveTestPlanResponse, handlers.approve_test_plan,
            plan=PLAN_FROM_PROTO.get(request.plan), replicates=request.replicates,
        )

    @rpc_method
    async def ConcludePhaseTwo(
        self, request: api.ConcludePhaseTwoRequest, context: grpc.aio.ServicerContext
    ) -> api.ConcludePhaseTwoResponse:
        return await self._step(  # type: ignore[no-any-return]
            request, CONCLUDE_PHASE_TWO, api.ConcludePhaseTwoResponse,
            handlers.conclude_phase_two, oos_confirmed=request.oos_confirmed,
            causes=causes_from_proto(list(request.causes)), conclusion=request.conclusion,
        )

    @rpc_method
    async def GetInvestigation(
        self, request: api.GetInvestigationRequest, context: grpc.aio.ServicerContext
    ) -> api.GetInvestigationResponse:
        current_principal()
        investigation_id = investigation_id_of(request.name)
        with read_session(self._engine) as session:
            return api.GetInvestigationResponse(
                investigation=handlers.get(session, investigation_id))

    @rpc_method
    async def ListInvestigations(
        self, request: api.ListInvestigationsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListInvestigationsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=50, maximum=500)
        after = decode_position(request.page_token, str)
        batch_id = batch_id_of(request.batch) if request.batch else None
        with read_session(self._engine) as session:
            rows = repository.page(session, batch_id=batch_id,
                                   after=None if after is None else after[0], size=size + 1)
        page, token = page_of_keyed(rows, size)
        return api.ListInvestigationsResponse(investigations=page, next_page_token=token)
