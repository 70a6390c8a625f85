"""The gRPC side of identity: bearer-token interceptor, role and site checks, signing, Login.

A call's principal lives in a contextvar that ``AuthInterceptor`` sets; handlers read it with
``current_principal()``. Electronic signatures re-check the signer's password (21 CFR 11.200).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from datetime import UTC
from typing import Any

import grpc
from twinline.common.v1 import auth_pb2, auth_pb2_grpc, signature_pb2

from services.common.domain import bounds, errors
from services.common.domain.clock import Clock, utc_now
from services.common.domain.roles import Principal, Role
from services.common.domain.signatures import (
    PERSON_MEANINGS,
    SignatureMeaning,
    SignatureRecord,
    check_reason,
)
from services.common.grpc.principals import principal_to_proto
from services.common.grpc.status import abort_with
from services.common.identity.directory import UserDirectory
from services.common.identity.tokens import TokenIssuer

log = logging.getLogger(__name__)

LOGIN_METHOD = "/twinline.common.v1.AuthenticationService/Login"
# Methods callable without a token: health probes, reflection, and the way to get a token.
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.", LOGIN_METHOD)

_principal: ContextVar[Principal | None] = ContextVar("twinline_principal", default=None)


def current_principal() -> Principal:
    """The caller of the RPC being handled; raises errors.Unauthenticated outside one."""
    principal = _principal.get()
    if principal is None:
        raise errors.Unauthenticated("NOT_AUTHENTICATED", "no authenticated caller")
    return principal


def is_public(method: str) -> bool:
    return method.startswith(PUBLIC_METHOD_PREFIXES)


def bearer_token(metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
    """The token of an ``authorization: Bearer <token>`` header."""
    for key, value in metadata or ():
        if key == "authorization":
            scheme, _, token = str(value).partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise errors.Unauthenticated(
                    "TOKEN_INVALID", "the authorization header must be 'Bearer <token>'"
                )
            return token
    raise errors.Unauthenticated("TOKEN_MISSING", "send 'authorization: Bearer <token>'")


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses every non-public call without a valid token and binds its principal.

    Given the site's ``directory``, it also refuses a principal of this site (``site_id``)
    whose account was deactivated or locked after the token was issued (known within
    STANDING_SECONDS): a token lives for hours, access must end with the account. A principal
    of another site is known only to its own site's directory; its token alone counts here,
    and it may only read (writes need a principal of this site).
    """

    def __init__(
        self, issuer: TokenIssuer, *, directory: UserDirectory | None = None, site_id: str = ""
    ) -> None:
        self.issuer = issuer
        self._directory = directory
        self._site_id = site_id
        # Method -> (handler as registered, its wrapped twin). Wrapping is per method, not per
        # call: the wrapper reads the token from each call's own context.
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or is_public(method):
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: Any) -> Any:
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._single_response(handler.unary_unary), **codec
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._response_stream(handler.unary_stream), **codec
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._single_response(handler.stream_unary), **codec
            )
        return grpc.stream_stream_rpc_method_handler(
            self._response_stream(handler.stream_stream), **codec
        )

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> Principal:
        try:
            principal = self.issuer.verify(bearer_token(context.invocation_metadata()))
            if self._directory is not None and principal.home_site == self._site_id:
                self._directory.require_good_standing(principal.username)
            return principal
        except Exception as exc:  # e.g. the directory unreadable: INTERNAL, no internals shown
            await abort_with(context, exc)
            raise  # abort_with has already ended the call by raising

    def _single_response(self, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            bound = _principal.set(await self._authenticate(context))
            try:
                response = behaviour(request, context)
                if inspect.isawaitable(response):
                    response = await response
                return response
            finally:
                _principal.reset(bound)

        return call

    def _response_stream(self, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            bound = _principal.set(await self._authenticate(context))
            try:
                responses = behaviour(request, context)
                if hasattr(responses, "__aiter__"):
                    async for response in responses:
                        yield response
                elif inspect.isawaitable(responses):
                    await responses  # a handler that writes with context.write()
            finally:
                try:
                    _principal.reset(bound)
                except ValueError:
                    pass  # the generator was closed from another context; that one never saw it

        return call


def require_role(principal: Principal, *roles: Role) -> None:
    """Raises PermissionDenied unless the principal holds one of ``roles``."""
    if not principal.has_any(*roles):
        raise _role_required(principal, roles)


def _role_required(principal: Principal, roles: Sequence[Role]) -> errors.PermissionDenied:
    needed = ",".join(roles)
    return errors.PermissionDenied(
        "ROLE_REQUIRED",
        f"{principal.username} needs one of the roles {needed}",
        requiredRoles=needed,
        username=principal.username,
    )


def require_home_site(principal: Principal, site_id: str) -> None:
    """Raises PermissionDenied unless ``site_id`` is the principal's home site.

    A user of another site may read this site's records, but changes only those of their own.
    """
    if principal.home_site != site_id:
        raise errors.PermissionDenied(
            "WRONG_SITE",
            f"{principal.username} belongs to {principal.home_site} and cannot write at {site_id}",
            homeSite=principal.home_site,
            site=site_id,
        )


def sign(
    directory: UserDirectory,
    principal: Principal,
    password: str,
    meaning: SignatureMeaning,
    reason: str,
    *,
    roles: Sequence[Role],
    clock: Clock = utc_now,
) -> SignatureRecord:
    """Re-authenticates the caller and returns their signature under the first of ``roles``
    they hold. The signer is always the token's user, never a name taken from the request.
    Blocks for an argon2 verify: on the event loop use ``sign_async``.
    """
    try:
        signer = directory.authenticate(principal.username, password)
    except errors.Unauthenticated as refused:
        log.warning("failed signature attempt by %s (%s)", principal.username, meaning)
        if refused.reason == "ACCOUNT_LOCKED":
            raise
        raise errors.Unauthenticated(
            "SIGNATURE_PASSWORD_INVALID", "the password entered to sign is not correct"
        ) from None
    if Role.INTEGRATION in signer.roles and meaning in PERSON_MEANINGS:
        raise errors.PermissionDenied(
            "INTEGRATION_CANNOT_SIGN",
            f"{signer.username} is an integration account; a {meaning.value} signature needs "
            "a person",
            signer=signer.username, meaning=meaning.value,
        )
    # Roles as the directory holds them now, not as the token remembers them.
    role = next((role for role in roles if role in signer.roles), None)
    if role is None:
        raise _role_required(signer, roles)
    return SignatureRecord(
        signer=signer.username,
        printed_name=signer.printed_name,
        role=role.value,
        meaning=meaning,
        sign_time=clock().astimezone(UTC),
        reason=reason,
    )


async def sign_async(
    directory: UserDirectory,
    principal: Principal,
    password: str,
    meaning: SignatureMeaning,
    reason: str,
    *,
    roles: Sequence[Role],
    clock: Clock = utc_now,
) -> SignatureRecord:
    """``sign`` with the password check in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(
        sign, directory, principal, password, meaning, reason, roles=roles, clock=clock
    )


class AuthenticationServicer(auth_pb2_grpc.AuthenticationServiceServicer):
    """Login: a username and password in, a bearer token out."""

    def __init__(self, directory: UserDirectory, issuer: TokenIssuer) -> None:
        self.directory = directory
        self.issuer = issuer

    async def Login(
        self, request: auth_pb2.LoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LoginResponse:
        try:
            violations = errors.Violations()
            bounds.text("username", request.username, bounds.USERNAME_LEN, violations,
                        required=True)
            if not request.password:
                violations.add("password", "required")
            elif len(request.password) > bounds.PASSWORD_LEN:
                violations.add("password", f"is longer than {bounds.PASSWORD_LEN} characters")
            violations.raise_if_any()
            principal = await asyncio.to_thread(
                self.directory.authenticate, request.username, request.password
            )
            token, expires = self.issuer.issue(principal)
        except Exception as exc:  # a domain error's status; anything else INTERNAL, with an id
            await abort_with(context, exc)
            raise
        response = auth_pb2.LoginResponse(access_token=token, user=principal_to_proto(principal))
        response.expire_time.FromDatetime(expires)
        return response


def site_writer(site_id: str, *roles: Role) -> Principal:
    """The caller, if they hold one of ``roles`` and belong to ``site_id``: a principal writes
    only at its own site's services. (That they are still active and unlocked, the
    interceptor checked for every call of a principal of this site.)"""
    principal = current_principal()
    require_role(principal, *roles)
    require_home_site(principal, site_id)
    return principal


async def signature_from(
    directory: UserDirectory, principal: Principal, given: signature_pb2.SignatureInput,
    meaning: SignatureMeaning, roles: Sequence[Role], *, reason_required: bool = False,
) -> SignatureRecord:
    """An e-signature from what the client sent: the password re-entered, and a reason."""
    violations = errors.Violations()
    if not given.password:
        violations.add("signature.password", "re-enter your password to sign")
    elif len(given.password) > bounds.PASSWORD_LEN:
        violations.add("signature.password", f"is longer than {bounds.PASSWORD_LEN} characters")
    check_reason(given.reason, violations, required=reason_required)
    violations.raise_if_any()
    return await sign_async(
        directory, principal, given.password, meaning, given.reason, roles=roles
    )
