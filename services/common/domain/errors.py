"""Domain errors and their one mapping to ``google.rpc.Status`` (AIP-193).

A domain error names a reason (UPPER_SNAKE_CASE) and, for bad input, every field violation.
The servicer layer never builds a status by hand: it raises, and ``abort_with`` translates.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

# The ErrorInfo domain of every error Twinline returns (AIP-193): the service's own domain.
ERROR_DOMAIN = "twinline.io"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """A client's request cannot be honoured; carries the gRPC code it maps to."""

    code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, reason: str, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.metadata = metadata


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: list[FieldViolation], message: str = "") -> None:
        self.violations = violations
        fields = ", ".join(violation.field for violation in violations)
        super().__init__("INVALID_ARGUMENT", message or f"invalid field(s): {fields}")


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


@dataclass(frozen=True)
class Precondition:
    """One unmet condition: its type (UPPER_SNAKE_CASE), what it is about, and why."""

    type: str
    subject: str
    description: str


class PreconditionFailed(DomainError):
    """Several conditions are unmet; the status lists every one (PreconditionFailure)."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, reason: str, message: str, conditions: list[Precondition]) -> None:
        self.conditions = conditions
        listed = "; ".join(f"{c.subject}: {c.description}" for c in conditions)
        super().__init__(reason, f"{message}: {listed}")


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Aborted(DomainError):
    """A concurrent change won: a stale etag (AIP-154)."""

    code = grpc.StatusCode.ABORTED


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


@dataclass
class Violations:
    """Collects every bad field of a request before raising once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append(FieldViolation(field_path, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


# gRPC carries a status in trailers, which a client refuses beyond 16 KiB: what an error
# quotes (a client's own value, perhaps) is cut to fit, whatever the request held.
MESSAGE_CHARS = 1_000
DETAIL_CHARS = 200
LISTED = 20


def _cut(text: str, limit: int = DETAIL_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def to_status(error: DomainError) -> status_pb2.Status:
    details = [
        _pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=ERROR_DOMAIN,
                metadata={key: _cut(value) for key, value in error.metadata.items()},
            )
        )
    ]
    if isinstance(error, InvalidArgument):
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=_cut(violation.field), description=_cut(violation.description)
                        )
                        for violation in error.violations[:LISTED]
                    ]
                )
            )
        )
    if isinstance(error, PreconditionFailed):
        details.append(
            _pack(
                error_details_pb2.PreconditionFailure(
                    violations=[
                        error_details_pb2.PreconditionFailure.Violation(
                            type=condition.type, subject=_cut(condition.subject),
                            description=_cut(condition.description),
                        )
                        for condition in error.conditions[:LISTED]
                    ]
                )
            )
        )
    return status_pb2.Status(
        code=error.code.value[0], message=_cut(error.message, MESSAGE_CHARS), details=details
    )


def internal_status(exc: BaseException) -> tuple[status_pb2.Status, str]:
    """An unexpected error: logged in full under a correlation id; the client sees only the id."""
    correlation_id = uuid.uuid4().hex
    log.error("internal error %s", correlation_id, exc_info=exc)
    status = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error; correlation id {correlation_id}",
        details=[
            _pack(
                error_details_pb2.ErrorInfo(
                    reason="INTERNAL",
                    domain=ERROR_DOMAIN,
                    metadata={"correlationId": correlation_id},
                )
            )
        ],
    )
    return status, correlation_id


async def abort_with(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    """Ends the call with the status that ``exc`` maps to."""
    if isinstance(exc, DomainError):
        status = to_status(exc)
    else:
        status, _ = internal_status(exc)
    await context.abort_with_status(rpc_status.to_status(status))


def details_of(error: grpc.aio.AioRpcError | grpc.RpcError) -> dict[str, object]:
    """Client side: the ErrorInfo reason, the BadRequest fields and the PreconditionFailure
    violations of a failed call (``preconditions``: type and subject; ``conditions``: with the
    description too)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found: dict[str, object] = {
        "reason": None, "fields": [], "metadata": {}, "preconditions": [], "conditions": [],
    }
    if status is None:
        return found
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            found["reason"] = info.reason
            found["metadata"] = dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found["fields"] = [violation.field for violation in bad_request.field_violations]
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            found["preconditions"] = [(v.type, v.subject) for v in failure.violations]
            found["conditions"] = [
                (v.type, v.subject, v.description) for v in failure.violations
            ]
    return found
