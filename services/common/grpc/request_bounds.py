"""The last-resort bounds of any request message, walked by its descriptor (see docs/bounds.md)."""

from __future__ import annotations

from google.protobuf import descriptor, message

from services.common.domain.bounds import ANY_LIST_LEN, ANY_TEXT_LEN, list_len, text
from services.common.domain.errors import Violations


def request_violations(request: message.Message, prefix: str = "") -> Violations:
    """The last resort for every string and repeated field of any request, before its domain
    looks: each string at most ANY_TEXT_LEN and XML-safe, each list at most ANY_LIST_LEN
    items. Field paths read as the domain's do (``steps[0].comment``)."""
    violations = Violations()
    _walk(request, prefix, violations)
    return violations


def _walk(request: message.Message, prefix: str, violations: Violations) -> None:
    for field, value in request.ListFields():
        path = f"{prefix}{field.name}"
        repeated = field.is_repeated
        if repeated and not list_len(path, value, ANY_LIST_LEN, violations):
            continue
        if field.type == descriptor.FieldDescriptor.TYPE_STRING:
            for index, item in enumerate(value) if repeated else [(None, value)]:
                at = path if index is None else f"{path}[{index}]"
                text(at, item, ANY_TEXT_LEN, violations)
        elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                continue  # no request of ours holds a map
            for index, item in enumerate(value) if repeated else [(None, value)]:
                at = path if index is None else f"{path}[{index}]"
                _walk(item, f"{at}.", violations)
