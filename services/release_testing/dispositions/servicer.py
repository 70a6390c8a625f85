"""DispositionService: certificates of analysis and QA's disposition of batches."""

from __future__ import annotations

import grpc
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import release_testing_service_pb2_grpc as api_grpc

from services.batch_records.batches.names import batch_id_of
from services.common.domain.errors import FieldViolation, InvalidArgument
from services.common.domain.signatures import SignatureMeaning
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import decode_position, page_of_keyed, page_size_of
from services.common.grpc.rpc import mutate, rpc_method
from services.common.grpc.transitions import Checked, SignedTransitions, Transition
from services.common.persistence.database import read_session
from services.common.persistence.unit_of_work import UnitOfWork
from services.release_testing.certificates import domain as certificates
from services.release_testing.certificates import handlers as certificate_handlers
from services.release_testing.dispositions import domain, handlers, repository
from services.release_testing.dispositions.domain import Decision
from services.release_testing.dispositions.translate import DECISION_FROM_PROTO
from services.release_testing.samples.names import sample_id_of

ISSUE = Transition(certificates.ISSUER_ROLES, SignatureMeaning.APPROVED)
# What QA's signature means for each decision; a rejection or a hold says why.
MEANINGS = {
    Decision.RELEASED: SignatureMeaning.RELEASED,
    Decision.REJECTED: SignatureMeaning.REJECTED,
    Decision.ON_HOLD: SignatureMeaning.APPROVED,
}


def _certificate_of(name: str) -> str:
    if not name.endswith("/certificate"):
        raise InvalidArgument([FieldViolation(
            "name", "must look like samples/SYR-S-2026-00001/certificate")])
    return sample_id_of(name.removesuffix("/certificate"), "name")


class DispositionServicer(SignedTransitions, api_grpc.DispositionServiceServicer):
    @rpc_method
    async def IssueCertificate(
        self, request: api.IssueCertificateRequest, context: grpc.aio.ServicerContext
    ) -> api.IssueCertificateResponse:
        def command(uow: UnitOfWork, checked: Checked[str]) -> api.IssueCertificateResponse:
            return api.IssueCertificateResponse(certificate=certificate_handlers.issue(
                uow, **checked.arguments("key"), site_name=self._site.display_name))

        return await self._transition(
            request, ISSUE, target=lambda: sample_id_of(request.sample),
            response_type=api.IssueCertificateResponse, command=command,
        )

    @rpc_method
    async def GetCertificate(
        self, request: api.GetCertificateRequest, context: grpc.aio.ServicerContext
    ) -> api.GetCertificateResponse:
        current_principal()
        sample_id = _certificate_of(request.name)
        with read_session(self._engine) as session:
            certificate, pdf = certificate_handlers.get(session, sample_id)
        return api.GetCertificateResponse(certificate=certificate, pdf=pdf)

    @rpc_method
    async def DisposeBatch(
        self, request: api.DisposeBatchRequest, context: grpc.aio.ServicerContext
    ) -> api.DisposeBatchResponse:
        principal = self._writer_principal(*domain.DISPOSER_ROLES)
        batch_id = batch_id_of(request.batch)
        decision = DECISION_FROM_PROTO.get(request.decision)
        if decision is None:
            raise InvalidArgument([FieldViolation(
                "decision", "is required: RELEASED, REJECTED or ON_HOLD")])
        signature = await self._sign(
            principal, request.signature, MEANINGS[decision], domain.DISPOSER_ROLES,
            reason_required=decision is not Decision.RELEASED,
        )
        return await mutate(
            self._writer, request=request, response_type=api.DisposeBatchResponse,
            command=lambda uow: api.DisposeBatchResponse(disposition=handlers.dispose(
                uow, principal=principal, batch_id=batch_id, decision=decision,
                signature=signature)),
        )

    @rpc_method
    async def ListDispositions(
        self, request: api.ListDispositionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListDispositionsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=50, maximum=500)
        after = decode_position(request.page_token, str, int)
        batch_id = batch_id_of(request.batch) if request.batch else None
        with read_session(self._engine) as session:
            rows = repository.page(session, batch_id=batch_id,
                                   after=None if after is None else (after[0], after[1]),
                                   size=size + 1)
        page, token = page_of_keyed(rows, size)
        return api.ListDispositionsResponse(dispositions=page, next_page_token=token)
