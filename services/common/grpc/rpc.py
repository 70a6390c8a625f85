"""What every servicer shares: error mapping, idempotent mutations, site writers and signatures."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import grpc
from google.protobuf import descriptor, message
from sqlalchemy import Engine
from twinline.common.v1 import signature_pb2

from services.common.domain.errors import FieldViolation, InvalidArgument
from services.common.domain.roles import Principal, Role
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from services.common.grpc.auth import current_principal, signature_from, site_writer
from services.common.grpc.request_bounds import request_violations
from services.common.grpc.status import abort_with
from services.common.identity.directory import UserDirectory
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.common.sites import Site

M = TypeVar("M", bound=message.Message)
V = TypeVar("V")
Handler = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Any]]
MAX_REQUEST_ID = 128


def rpc_method(method: Handler) -> Handler:
    """Maps a domain error to its status, and anything unexpected to INTERNAL with an id; a
    request with an unbounded string or list (request_bounds.request_violations) goes no further."""

    @functools.wraps(method)
    async def translated(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            request_violations(request).raise_if_any()
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_with(context, exc)

    return translated


def require_request_id(request_id: str) -> None:
    if not request_id:
        raise InvalidArgument([FieldViolation("request_id", "is required (a UUID per request)")])
    if len(request_id) > MAX_REQUEST_ID:
        raise InvalidArgument(
            [FieldViolation("request_id", f"is longer than {MAX_REQUEST_ID} characters")]
        )


def enum_filter(field: str, number: int, known: Mapping[Any, V]) -> V | None:
    """What a list filter's enum field asks for: None when unset (0), else its known value.

    A number this release does not know is refused, naming the field, never ignored or matched
    against nothing: a client cannot tell either from a true answer.
    """
    if number == 0:
        return None
    if number not in known:
        raise InvalidArgument([FieldViolation(field, f"{number} is not a known value")])
    return known[number]


@functools.cache
def method_of(request_type: descriptor.Descriptor) -> str:
    """The full gRPC method (``/package.Service/Method``) whose request is ``request_type``.

    Read from the proto's own service definitions: one request message per RPC (buf STANDARD).
    """
    methods = [
        f"/{service.full_name}/{method.name}"
        for service in request_type.file.services_by_name.values()
        for method in service.methods
        if method.input_type is request_type
    ]
    if len(methods) != 1:
        raise LookupError(f"{request_type.full_name} is the request of {methods}, not one RPC")
    return methods[0]


async def mutate(
    writer: Writer, *, request: Any, response_type: type[M], command: Callable[[UnitOfWork], M],
) -> M:
    """Runs ``command`` once per ``request.request_id`` of its RPC; a retry gets the first
    answer."""
    require_request_id(request.request_id)
    principal = current_principal()
    answer = await writer.run_idempotent(
        request_id=request.request_id, method=method_of(request.DESCRIPTOR),
        principal=principal.username,
        request=request, command=lambda uow: command(uow).SerializeToString(),
    )
    return response_type.FromString(answer)


class SiteWriting:
    """What every servicer that writes at one site holds: its writer, database, users, site."""

    def __init__(
        self, *, writer: Writer, engine: Engine, directory: UserDirectory, site: Site
    ) -> None:
        self._writer = writer
        self._engine = engine
        self._directory = directory
        self._site = site

    def _writer_principal(self, *roles: Role) -> Principal:
        return site_writer(self._site.id, *roles)

    async def _sign(
        self, principal: Principal, signature: signature_pb2.SignatureInput,
        meaning: SignatureMeaning, roles: tuple[Role, ...], *, reason_required: bool = False,
    ) -> SignatureRecord:
        return await signature_from(
            self._directory, principal, signature, meaning, roles,
            reason_required=reason_required,
        )
