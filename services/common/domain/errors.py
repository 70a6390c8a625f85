"""Domain errors: a reason (UPPER_SNAKE_CASE) and, for bad input, every field violation.

Pure: no gRPC here. ``services.common.grpc.status`` maps each kind to its gRPC code and
``google.rpc.Status`` (AIP-193), in one place; the servicer layer raises and never builds a
status by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """A client's request cannot be honoured; its class says which kind of refusal it is."""

    def __init__(self, reason: str, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.metadata = metadata


class InvalidArgument(DomainError):

    def __init__(self, violations: list[FieldViolation], message: str = "") -> None:
        self.violations = violations
        fields = ", ".join(violation.field for violation in violations)
        super().__init__("INVALID_ARGUMENT", message or f"invalid field(s): {fields}")


class FailedPrecondition(DomainError):
    """The system is not in the state the request needs."""


@dataclass(frozen=True)
class Precondition:
    """One unmet condition: its type (UPPER_SNAKE_CASE), what it is about, and why."""

    type: str
    subject: str
    description: str


class PreconditionFailed(DomainError):
    """Several conditions are unmet; the status lists every one (PreconditionFailure)."""


    def __init__(self, reason: str, message: str, conditions: list[Precondition]) -> None:
        self.conditions = conditions
        listed = "; ".join(f"{c.subject}: {c.description}" for c in conditions)
        super().__init__(reason, f"{message}: {listed}")


class NotFound(DomainError):
    """The named resource does not exist."""


class PermissionDenied(DomainError):
    """The caller may not do this."""


class Unauthenticated(DomainError):
    """The caller is not known (no valid token or credentials)."""


class Aborted(DomainError):
    """A concurrent change won: a stale etag (AIP-154)."""


class AlreadyExists(DomainError):
    """A resource of that name exists already."""


@dataclass
class Violations:
    """Collects every bad field of a request before raising once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append(FieldViolation(field_path, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)
