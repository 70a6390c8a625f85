"""The one JSON form of an aggregate's state in the audit trail: its API message."""

from __future__ import annotations

from google.protobuf import json_format, message

from services.common.persistence.audit import canonical_json


def audit_state(state: message.Message | None) -> str:
    """An audit entry's old or new value: the resource as its API message, in proto3 JSON
    (lowerCamel names, enums by name, fields at their default left out) written canonically
    (sorted keys, no spaces); "" where there was none (the old value of a creation)."""
    if state is None:
        return ""
    return canonical_json(
        json_format.MessageToDict(
            state, preserving_proto_field_name=False, use_integers_for_enums=False
        )
    )
