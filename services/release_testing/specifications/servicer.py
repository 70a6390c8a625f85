"""SpecificationService: translates requests to use cases and results to responses."""

from __future__ import annotations

import grpc
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import release_testing_service_pb2_grpc as api_grpc
from twinline.releasetesting.v1 import specification_pb2 as pb

from services.common.domain import bounds
from services.common.domain.errors import Violations
from services.common.domain.signatures import SignatureMeaning
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import decode_position, page_of_keyed, page_size_of
from services.common.grpc.rpc import mutate, rpc_method
from services.common.grpc.transitions import (
    SignedTransitions,
    Transition,
    require_etag,
    transition_rpc,
)
from services.common.persistence.database import read_session
from services.release_testing.specifications import domain, handlers, repository
from services.release_testing.specifications.domain import Specification, SpecTest
from services.release_testing.specifications.names import spec_id_of, version_of
from services.release_testing.specifications.translate import (
    PURPOSE_FROM_PROTO,
    specification_to_proto,
    tests_from_proto,
)

APPROVE = Transition(domain.APPROVER_ROLES, SignatureMeaning.APPROVED)
MAKE_EFFECTIVE = Transition(domain.APPROVER_ROLES, SignatureMeaning.MADE_EFFECTIVE)


def _content(given: pb.Specification, violations: Violations) -> tuple[SpecTest, ...]:
    tests = tests_from_proto(list(given.tests), violations)
    bounds.list_len("specification.tests", list(given.tests), domain.MAX_TESTS, violations)
    domain.check_content(given.product, PURPOSE_FROM_PROTO.get(given.purpose), given.market,
                         given.title, tests, violations)
    return tests


def _answer(response_type: type[api.ApproveSpecificationResponse],
            spec: Specification) -> api.ApproveSpecificationResponse:
    return response_type(specification=specification_to_proto(spec))


class SpecificationServicer(SignedTransitions, api_grpc.SpecificationServiceServicer):
    @rpc_method
    async def CreateSpecification(
        self, request: api.CreateSpecificationRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateSpecificationResponse:
        principal = self._writer_principal(*domain.AUTHOR_ROLES)
        given = request.specification
        violations = Violations()
        tests = _content(given, violations)
        violations.raise_if_any()
        purpose = PURPOSE_FROM_PROTO[given.purpose]
        return await mutate(
            self._writer, request=request, response_type=api.CreateSpecificationResponse,
            command=lambda uow: api.CreateSpecificationResponse(
                specification=specification_to_proto(handlers.create(
                    uow, principal=principal, site_code=self._site.code,
                    product=given.product, purpose=purpose, market=given.market,
                    title=given.title, tests=tests,
                ))),
        )

    @rpc_method
    async def CreateSpecificationVersion(
        self, request: api.CreateSpecificationVersionRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateSpecificationVersionResponse:
        principal = self._writer_principal(*domain.AUTHOR_ROLES)
        spec_id = spec_id_of(request.specification)
        return await mutate(
            self._writer, request=request,
            response_type=api.CreateSpecificationVersionResponse,
            command=lambda uow: api.CreateSpecificationVersionResponse(
                specification=specification_to_proto(handlers.create_version(
                    uow, principal=principal, spec_id=spec_id))),
        )

    @rpc_method
    async def UpdateSpecification(
        self, request: api.UpdateSpecificationRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateSpecificationResponse:
        principal = self._writer_principal(*domain.AUTHOR_ROLES)
        given = request.specification
        key = version_of(given.name, "specification.name")
        require_etag(given.etag, "specification.etag")
        violations = Violations()
        tests = tests_from_proto(list(given.tests), violations)
        bounds.text("specification.title", given.title, bounds.NAME_LEN, violations,
                    required=True)
        with read_session(self._engine) as session:
            current = repository.stored(session, *key)
        # Product and purpose stay those of the specification; the content is checked whole.
        domain.check_content(current.product, PURPOSE_FROM_PROTO.get(current.purpose),
                             current.market, given.title, tests, violations)
        violations.raise_if_any()
        return await mutate(
            self._writer, request=request, response_type=api.UpdateSpecificationResponse,
            command=lambda uow: api.UpdateSpecificationResponse(
                specification=specification_to_proto(handlers.update(
                    uow, principal=principal, key=key, etag=given.etag, title=given.title,
                    tests=tests))),
        )

    ApproveSpecification = transition_rpc(
        APPROVE, api.ApproveSpecificationResponse, target=lambda request: version_of(
            request.name), target_name="key", use_case=handlers.approve, answer=_answer,
    )

    @rpc_method
    async def MakeSpecificationEffective(
        self, request: api.MakeSpecificationEffectiveRequest, context: grpc.aio.ServicerContext
    ) -> api.MakeSpecificationEffectiveResponse:
        def command(uow, checked):  # type: ignore[no-untyped-def]
            effective, superseded = handlers.make_effective(uow, **checked.arguments("key"))
            response = api.MakeSpecificationEffectiveResponse(
                specification=specification_to_proto(effective))
            if superseded is not None:
                response.superseded.CopyFrom(specification_to_proto(superseded))
            return response

        return await self._transition(
            request, MAKE_EFFECTIVE, target=lambda: version_of(request.name),
            response_type=api.MakeSpecificationEffectiveResponse, command=command,
        )

    @rpc_method
    async def GetSpecification(
        self, request: api.GetSpecificationRequest, context: grpc.aio.ServicerContext
    ) -> api.GetSpecificationResponse:
        current_principal()
        key = version_of(request.name)
        with read_session(self._engine) as session:
            return api.GetSpecificationResponse(specification=handlers.get(session, key))

    @rpc_method
    async def ListSpecifications(
        self, request: api.ListSpecificationsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListSpecificationsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=50, maximum=500)
        after = decode_position(request.page_token, str, int)
        with read_session(self._engine) as session:
            rows = repository.page(session, product=request.product or None,
                                   after=None if after is None else (after[0], after[1]),
                                   size=size + 1)
        page, token = page_of_keyed(rows, size)
        return api.ListSpecificationsResponse(specifications=page, next_page_token=token)
