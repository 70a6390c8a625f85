"""SampleService: translates requests to use cases and results to responses."""

from __future__ import annotations

from decimal import Decimal

import grpc
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import release_testing_service_pb2_grpc as api_grpc

from services.batch_records.batches.names import batch_id_of
from services.common.domain import bounds
from services.common.domain.errors import Violations
from services.common.domain.signatures import SignatureMeaning
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import decode_position, page_of_keyed, page_size_of
from services.common.grpc.rpc import mutate, rpc_method
from services.common.grpc.transitions import Checked, SignedTransitions, Transition
from services.common.persistence.database import read_session
from services.common.persistence.unit_of_work import UnitOfWork
from services.release_testing.investigations import handlers as investigations
from services.release_testing.investigations.names import investigation_id_of
from services.release_testing.samples import domain, handlers, repository
from services.release_testing.samples.domain import Entry
from services.release_testing.samples.names import result_of, sample_id_of
from services.release_testing.samples.translate import result_to_proto, sample_to_proto

ENTER = Transition(domain.ANALYST_ROLES, SignatureMeaning.EXECUTED)
REVIEW = Transition(domain.ANALYST_ROLES, SignatureMeaning.REVIEWED)
MAX_REPLICATES = 12


def entry_of(request: api.EnterResultRequest, sample_id: str) -> Entry:
    """The result a request carries, its decimals parsed; each bad field named."""
    violations = Violations()
    bounds.text("assignment_id", request.assignment_id, 16, violations, required=True)
    bounds.text("unit", request.unit, 32, violations)
    bounds.list_len("replicates", list(request.replicates), MAX_REPLICATES, violations)
    values: list[Decimal] = []
    for index, text in enumerate(request.replicates[:MAX_REPLICATES]):
        value = bounds.decimal(f"replicates[{index}]", text, violations)
        if value is not None:
            values.append(value)
    retest_of = None
    if request.retest_of:
        retested_sample, retest_of = result_of(request.retest_of, "retest_of")
        if retested_sample != sample_id:
            violations.add("retest_of", "a retest is of a result of the same sample")
    violations.raise_if_any()
    return Entry(
        assignment_id=request.assignment_id, replicates=tuple(r.strip() for r in
                                                              request.replicates),
        values=tuple(values), outcome=request.outcome, below_loq=request.below_loq,
        unit=request.unit, instrument_id=request.instrument_id, comment=request.comment,
        retest_of=retest_of,
    )


class SampleServicer(SignedTransitions, api_grpc.SampleServiceServicer):
    @rpc_method
    async def CreateSample(
        self, request: api.CreateSampleRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateSampleResponse:
        principal = self._writer_principal(*domain.SAMPLER_ROLES)
        batch_id = batch_id_of(request.batch)
        bounds.text("description", request.description, bounds.NAME_LEN, None)
        investigation = investigation_id_of(request.investigation, "investigation") if \
            request.investigation else None
        return await mutate(
            self._writer, request=request, response_type=api.CreateSampleResponse,
            command=lambda uow: api.CreateSampleResponse(sample=sample_to_proto(
                investigations.create_sample(
                    uow, principal=principal, site_code=self._site.code, batch_id=batch_id,
                    description=request.description, investigation=investigation,
                ))),
        )

    @rpc_method
    async def GetSample(
        self, request: api.GetSampleRequest, context: grpc.aio.ServicerContext
    ) -> api.GetSampleResponse:
        current_principal()
        sample_id = sample_id_of(request.name, "name")
        with read_session(self._engine) as session:
            return api.GetSampleResponse(sample=handlers.get(session, sample_id))

    @rpc_method
    async def ListSamples(
        self, request: api.ListSamplesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListSamplesResponse:
        current_principal()
        size = page_size_of(request.page_size, default=50, maximum=500)
        after = decode_position(request.page_token, str)
        batch_id = batch_id_of(request.batch) if request.batch else None
        with read_session(self._engine) as session:
            rows = repository.page(session, batch_id=batch_id,
                                   after=None if after is None else after[0], size=size + 1)
        page, token = page_of_keyed(rows, size)
        return api.ListSamplesResponse(samples=page, next_page_token=token)

    @rpc_method
    async def EnterResult(
        self, request: api.EnterResultRequest, context: grpc.aio.ServicerContext
    ) -> api.EnterResultResponse:
        sample_id = sample_id_of(request.sample)
        entry = entry_of(request, sample_id)

        def command(uow: UnitOfWork, checked: Checked[str]) -> api.EnterResultResponse:
            entered = investigations.enter_result(
                uow, principal=checked.principal, site_code=self._site.code,
                sample_id=checked.target, etag=checked.etag or "", entry=entry,
                signature=checked.signed,
            )
            sample, result = entered.sample, entered.result
            response = api.EnterResultResponse(
                sample=sample_to_proto(sample), result=result_to_proto(sample.sample_id, result))
            if entered.investigation is not None:
                response.investigation.CopyFrom(entered.investigation)
            return response

        return await self._transition(
            request, ENTER, target=lambda: sample_id, response_type=api.EnterResultResponse,
            command=command,
        )

    @rpc_method
    async def ReviewResult(
        self, request: api.ReviewResultRequest, context: grpc.aio.ServicerContext
    ) -> api.ReviewResultResponse:
        key = result_of(request.result)

        def command(uow: UnitOfWork, checked: Checked[tuple[str, int]]
                    ) -> api.ReviewResultResponse:
            sample, result = handlers.review_result(uow, **checked.arguments("key"))
            return api.ReviewResultResponse(
                sample=sample_to_proto(sample), result=result_to_proto(sample.sample_id, result))

        return await self._transition(
            request, REVIEW, target=lambda: key, response_type=api.ReviewResultResponse,
            command=command,
        )
