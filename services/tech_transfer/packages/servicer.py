"""TechTransferService: translates requests to use cases and results to responses."""

from __future__ import annotations

import grpc
from sqlalchemy import Engine
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as api
from twinline.techtransfer.v1 import tech_transfer_service_pb2_grpc as api_grpc

from services.common.domain.errors import FieldViolation, InvalidArgument
from services.common.domain.signatures import SignatureMeaning
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import decode_position, page_of_keyed, page_size_of
from services.common.grpc.rpc import mutate, rpc_method
from services.common.grpc.transitions import (
    Checked,
    SignedTransitions,
    Transition,
    require_etag,
)
from services.common.identity.directory import UserDirectory
from services.common.persistence.database import read_session
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.common.sites import Site, SiteRegistry
from services.tech_transfer.packages import domain, handlers, repository
from services.tech_transfer.packages.names import package_id_of
from services.tech_transfer.packages.translate import (
    change_to_proto,
    comparison_to_proto,
    package_to_proto,
)

SEND = Transition(domain.SENDER_ROLES, SignatureMeaning.APPROVED)
START_REVIEW = Transition(domain.REVIEWER_ROLES)
ACCEPT = Transition(domain.ACCEPTOR_ROLES, SignatureMeaning.APPROVED)
RETURN = Transition(domain.REVIEWER_ROLES, SignatureMeaning.REJECTED)


class TechTransferServicer(SignedTransitions, api_grpc.TechTransferServiceServicer):
    def __init__(self, *, writer: Writer, engine: Engine, directory: UserDirectory, site: Site,
                 registry: SiteRegistry) -> None:
        super().__init__(writer=writer, engine=engine, directory=directory, site=site)
        # Each site's code leads its batch ids: how the results of its batches are found.
        self._site_codes = {known.id: known.code for known in registry.sites}

    @rpc_method
    async def GetRecipeDiff(
        self, request: api.GetRecipeDiffRequest, context: grpc.aio.ServicerContext
    ) -> api.GetRecipeDiffResponse:
        current_principal()
        if not request.package and not (request.before and request.after):
            raise InvalidArgument([FieldViolation(
                "package", "name a package, or two versions in before and after")])
        with read_session(self._engine) as session:
            before, after, changes = handlers.recipe_diff(
                session, before=request.before, after=request.after, package=request.package)
        return api.GetRecipeDiffResponse(before=before, after=after,
                                         changes=[change_to_proto(c) for c in changes])

    @rpc_method
    async def GetComparability(
        self, request: api.GetComparabilityRequest, context: grpc.aio.ServicerContext
    ) -> api.GetComparabilityResponse:
        current_principal()
        with read_session(self._engine) as session:
            compared, gaps = handlers.comparability(session, package=request.package,
                                                    site_codes=self._site_codes)
        return api.GetComparabilityResponse(
            comparisons=[comparison_to_proto(c) for c in compared],
            gaps=[api.GapClosure(gap_id=gap_id, closed_by=closed_by, closed=closed)
                  for gap_id, closed_by, closed in gaps])

    @rpc_method
    async def CreateTransferPackage(
        self, request: api.CreateTransferPackageRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateTransferPackageResponse:
        principal = self._writer_principal(*domain.AUTHOR_ROLES)
        return await mutate(
            self._writer, request=request, response_type=api.CreateTransferPackageResponse,
            command=lambda uow: api.CreateTransferPackageResponse(package=package_to_proto(
                handlers.create(uow, principal=principal, site_code=self._site.code,
                                given=request.package))),
        )

    @rpc_method
    async def ReviseTransferPackage(
        self, request: api.ReviseTransferPackageRequest, context: grpc.aio.ServicerContext
    ) -> api.ReviseTransferPackageResponse:
        principal = self._writer_principal(*domain.AUTHOR_ROLES)
        key = package_id_of(request.package.name, "package.name")
        require_etag(request.package.etag, "package.etag")
        return await mutate(
            self._writer, request=request, response_type=api.ReviseTransferPackageResponse,
            command=lambda uow: api.ReviseTransferPackageResponse(package=package_to_proto(
                handlers.revise(uow, principal=principal, key=key, etag=request.package.etag,
                                given=request.package))),
        )

    @rpc_method
    async def SendTransferPackage(
        self, request: api.SendTransferPackageRequest, context: grpc.aio.ServicerContext
    ) -> api.SendTransferPackageResponse:
        def command(uow: UnitOfWork, checked: Checked[str]) -> api.SendTransferPackageResponse:
            return api.SendTransferPackageResponse(package=package_to_proto(
                handlers.send(uow, **checked.arguments("key"))))

        return await self._transition(
            request, SEND, target=lambda: package_id_of(request.name),
            response_type=api.SendTransferPackageResponse, command=command)

    @rpc_method
    async def StartTransferReview(
        self, request: api.StartTransferReviewRequest, context: grpc.aio.ServicerContext
    ) -> api.StartTransferReviewResponse:
        def command(uow: UnitOfWork, checked: Checked[str]) -> api.StartTransferReviewResponse:
            return api.StartTransferReviewResponse(package=package_to_proto(
                handlers.start_review(uow, **checked.arguments("key"))))

        return await self._transition(
            request, START_REVIEW, target=lambda: package_id_of(request.name),
            response_type=api.StartTransferReviewResponse, command=command)

    @rpc_method
    async def AcceptTransferPackage(
        self, request: api.AcceptTransferPackageRequest, context: grpc.aio.ServicerContext
    ) -> api.AcceptTransferPackageResponse:
        def command(uow: UnitOfWork, checked: Checked[str]
                    ) -> api.AcceptTransferPackageResponse:
            return api.AcceptTransferPackageResponse(package=package_to_proto(
                handlers.accept(uow, **checked.arguments("key"))))

        return await self._transition(
            request, ACCEPT, target=lambda: package_id_of(request.name),
            response_type=api.AcceptTransferPackageResponse, command=command)

    @rpc_method
    async def ReturnTransferPackage(
        self, request: api.ReturnTransferPackageRequest, context: grpc.aio.ServicerContext
    ) -> api.ReturnTransferPackageResponse:
        def command(uow: UnitOfWork, checked: Checked[str]
                    ) -> api.ReturnTransferPackageResponse:
            return api.ReturnTransferPackageResponse(package=package_to_proto(
                handlers.return_package(uow, **checked.arguments("key"),
                                        comments=request.comments)))

        return await self._transition(
            request, RETURN, target=lambda: package_id_of(request.name),
            response_type=api.ReturnTransferPackageResponse, command=command)

    @rpc_method
    async def GetTransferPackage(
        self, request: api.GetTransferPackageRequest, context: grpc.aio.ServicerContext
    ) -> api.GetTransferPackageResponse:
        current_principal()
        package_id = package_id_of(request.name)
        with read_session(self._engine) as session:
            return api.GetTransferPackageResponse(package=handlers.get(session, package_id))

    @rpc_method
    async def ListTransferPackages(
        self, request: api.ListTransferPackagesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListTransferPackagesResponse:
        current_principal()
        size = page_size_of(request.page_size, default=50, maximum=500)
        after = decode_position(request.page_token, str)
        with read_session(self._engine) as session:
            rows = repository.page(session, after=None if after is None else after[0],
                                   size=size + 1)
        page, token = page_of_keyed(rows, size)
        return api.ListTransferPackagesResponse(packages=page, next_page_token=token)
