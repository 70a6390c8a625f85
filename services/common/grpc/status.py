"""The one mapping of domain errors to gRPC codes and ``google.rpc.Status`` (AIP-193)."""

from __future__ import annotations

import logging
import uuid

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.common.domain.errors import (
    Aborted,
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Unauthenticated,
)

# The ErrorInfo domain of every error Twinline returns (AIP-193): the service's own domain.
ERROR_DOMAIN = "twinline.io"
log = logging.getLogger(__name__)

# Most specific class first; a DomainError of no listed kind is a failed precondition.
STATUS_CODES: tuple[tuple[type[DomainError], grpc.StatusCode], ...] = (
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (Aborted, grpc.StatusCode.ABORTED),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
)


def status_code(error: DomainError) -> grpc.StatusCode:
    for kind, code in STATUS_CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.FAILED_PRECONDITION


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
        code=status_code(error).value[0], message=_cut(error.message, MESSAGE_CHARS),
        details=details,
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
    """Client side: the ErrorInfo reason, the BadRequest fields (``field_violations``: each
    with its description) and the PreconditionFailure violations of a failed call
    (``preconditions``: type and subject; ``conditions``: with the description too)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found: dict[str, object] = {
        "reason": None, "fields": [], "field_violations": [], "metadata": {},
        "preconditions": [], "conditions": [],
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
            found["field_violations"] = [
                (violation.field, violation.description)
                for violation in bad_request.field_violations
            ]
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            found["preconditions"] = [(v.type, v.subject) for v in failure.violations]
            found["conditions"] = [
                (v.type, v.subject, v.description) for v in failure.violations
            ]
    return found
