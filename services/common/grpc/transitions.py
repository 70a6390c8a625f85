"""One shape for every signed state change of a resource (submit, review, approve, reject, …).

Such an RPC checks its caller's roles, parses the resource its request names, requires the
request's etag (when the request has one), takes the e-signature with the signer's password,
runs the use case once per request id in the writer, and translates its result. A servicer
declares each as a ``Transition`` and serves it with ``transition_rpc`` (the whole RPC) or
``SignedTransitions._transition`` (an RPC that parses more of its request).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf import message

from services.common.domain.errors import FieldViolation, InvalidArgument
from services.common.domain.roles import Principal, Role
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from services.common.grpc.rpc import SiteWriting, mutate, rpc_method
from services.common.persistence.unit_of_work import UnitOfWork

K = TypeVar("K")
V = TypeVar("V")
M = TypeVar("M", bound=message.Message)


@dataclass(frozen=True)
class Transition:
    """Who may ask for a state change, and the signature it takes (``meaning`` None: none)."""

    roles: tuple[Role, ...]
    meaning: SignatureMeaning | None = None
    reason_required: bool = False
    # The roles the signature is taken in, in order, when not ``roles`` (the first one the
    # signer holds is the role signed as).
    signer_roles: tuple[Role, ...] = ()


@dataclass(frozen=True)
class Checked(Generic[K]):
    """A transition request that passed its checks: who asks, of what, at which etag, signed."""

    principal: Principal
    target: K
    etag: str | None  # None: the request has no etag
    signature: SignatureRecord | None

    @property
    def signed(self) -> SignatureRecord:
        """The signature of a transition that takes one."""
        if self.signature is None:
            raise TypeError("this transition takes no signature")
        return self.signature

    def arguments(self, target: str) -> dict[str, Any]:
        """As a use case's keywords: ``principal``, the target under the name ``target``, and
        ``etag`` and ``signature`` where the transition has them."""
        given: dict[str, Any] = {"principal": self.principal, target: self.target}
        if self.etag is not None:
            given["etag"] = self.etag
        if self.signature is not None:
            given["signature"] = self.signature
        return given


def require_etag(etag: str, field: str = "etag") -> None:
    if not etag:
        raise InvalidArgument([FieldViolation(field, "is required (from the last read)")])


class SignedTransitions(SiteWriting):
    """A site's writing servicer whose RPCs include signed transitions."""

    async def _transition(
        self, request: Any, transition: Transition, *, target: Callable[[], K],
        response_type: type[M], command: Callable[[UnitOfWork, Checked[K]], M],
    ) -> M:
        """Checks ``request`` as ``transition`` says (roles, then the name ``target`` parses,
        then etag, then signature), then runs ``command`` once per request id."""
        principal = self._writer_principal(*transition.roles)
        key = target()
        etag = None
        if "etag" in request.DESCRIPTOR.fields_by_name:
            etag = request.etag
            require_etag(etag)
        signature = None
        if transition.meaning is not None:
            signature = await self._sign(
                principal, request.signature, transition.meaning,
                transition.signer_roles or transition.roles,
                reason_required=transition.reason_required,
            )
        checked = Checked(principal, key, etag, signature)
        return await mutate(
            self._writer, request=request, response_type=response_type,
            command=lambda uow: command(uow, checked),
        )


def transition_rpc(
    transition: Transition, response_type: type[M], *, target: Callable[[Any], K],
    target_name: str, use_case: Callable[..., V], answer: Callable[[type[M], V], M],
    fields: tuple[str, ...] = (),
) -> Any:  # a method of the generated servicer: typed by it, not here
    """A whole RPC of one transition: ``target`` parses the resource its request names, the use
    case gets it as ``target_name`` (with the principal, etag, signature and the request's
    ``fields`` by name), and ``answer`` makes the response of the use case's result."""

    @rpc_method
    async def rpc(self: SignedTransitions, request: Any, context: grpc.aio.ServicerContext) -> M:
        return await self._transition(
            request, transition, target=lambda: target(request), response_type=response_type,
            command=lambda uow, checked: answer(response_type, use_case(
                uow, **checked.arguments(target_name),
                **{field: getattr(request, field) for field in fields},
            )),
        )

    return rpc
