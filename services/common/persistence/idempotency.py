"""Idempotent mutations: a request's key and fingerprint, and the stored first answers."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime

from google.protobuf import message
from google.protobuf.descriptor import Descriptor
from sqlalchemy import bindparam, insert, select
from sqlmodel import Session

from services.common.domain.clock import to_text
from services.common.domain.errors import FieldViolation, InvalidArgument
from services.common.persistence.tables import RequestRecordRow


@dataclass(frozen=True)
class RequestKey:
    """What makes a mutation idempotent: its request_id, and what it was sent with."""

    request_id: str
    method: str
    principal: str
    fingerprint: str


# Core statements, built once: no ORM bookkeeping, compiled form reused.
REQUEST = RequestRecordRow.__table__  # type: ignore[attr-defined]
INSERT_REQUEST = insert(REQUEST)
EARLIER_ANSWERS = select(
    REQUEST.c.request_id, REQUEST.c.method, REQUEST.c.principal, REQUEST.c.fingerprint,
    REQUEST.c.response,
).where(REQUEST.c.request_id.in_(bindparam("ids", expanding=True)))
Answered = dict[str, tuple[RequestKey, bytes]]


def earlier_answers(session: Session, requests: list[RequestKey]) -> Answered:
    """The stored answers of these request ids, read with one query."""
    ids = [request.request_id for request in requests]
    if not ids:
        return {}
    rows = session.execute(EARLIER_ANSWERS, {"ids": ids})
    return {
        row.request_id: (
            RequestKey(row.request_id, row.method, row.principal, row.fingerprint), row.response
        )
        for row in rows
    }


def earlier_answer(request: RequestKey | None, answered: Answered) -> bytes | None:
    if request is None or request.request_id not in answered:
        return None
    first, response = answered[request.request_id]
    if first.fingerprint != request.fingerprint or first.principal != request.principal:
        raise InvalidArgument(
            [FieldViolation("request_id", "already used for a different request")]
        )
    return response


def request_row(request: RequestKey, response: bytes, now: datetime) -> dict[str, object]:
    return {
        "request_id": request.request_id, "method": request.method,
        "principal": request.principal, "fingerprint": request.fingerprint,
        "response": response, "created_time": to_text(now),
    }


def request_fingerprint(method: str, request: message.Message) -> str:
    """What identifies a request's content, without any password it carries."""
    scrubbed = request
    if _may_carry_password(request.DESCRIPTOR):  # else no copy is needed (most requests)
        scrubbed = type(request)()
        scrubbed.CopyFrom(request)
        _scrub_passwords(scrubbed)
    body = scrubbed.SerializeToString(deterministic=True)
    return hashlib.sha256(method.encode() + b"\0" + body).hexdigest()


@functools.cache
def _may_carry_password(descriptor: Descriptor) -> bool:
    """Whether a message of this type can hold a field that _scrub_passwords clears."""
    seen: set[str] = set()

    def visit(current: Descriptor) -> bool:
        if current.full_name in seen:
            return False
        seen.add(current.full_name)
        return any(
            field.name == "password"
            or (
                field.message_type is not None
                and not field.is_repeated
                and visit(field.message_type)
            )
            for field in current.fields
        )

    return visit(descriptor)


def _scrub_passwords(value: message.Message) -> None:
    for descriptor, field_value in value.ListFields():
        if descriptor.name == "password":
            value.ClearField(descriptor.name)
        elif descriptor.message_type is not None and not descriptor.is_repeated:
            _scrub_passwords(field_value)
