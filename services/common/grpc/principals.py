"""Roles and principals to and from their protobuf messages (twinline.common.v1.auth)."""

from __future__ import annotations

from twinline.common.v1 import auth_pb2

from services.common.domain.roles import Principal, Role

_ROLE_TO_PROTO = {role: auth_pb2.Role.Value(f"ROLE_{role.name}") for role in Role}
_ROLE_FROM_PROTO = {value: role for role, value in _ROLE_TO_PROTO.items()}


def role_to_proto(role: Role) -> auth_pb2.Role.ValueType:
    return _ROLE_TO_PROTO[role]


def role_from_proto(value: auth_pb2.Role.ValueType) -> Role:
    try:
        return _ROLE_FROM_PROTO[value]
    except KeyError:
        raise ValueError(f"no role for proto value {value}") from None


def principal_to_proto(principal: Principal) -> auth_pb2.User:
    return auth_pb2.User(
        username=principal.username,
        printed_name=principal.printed_name,
        roles=[role_to_proto(role) for role in sorted(principal.roles)],
        home_site=principal.home_site,
    )
