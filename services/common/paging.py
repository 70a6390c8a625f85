"""Page tokens (AIP-158): opaque to clients, a position to us."""

from __future__ import annotations

import base64
import json
from typing import Any

from services.common.errors import FieldViolation, InvalidArgument


def page_size_of(requested: int, *, default: int, maximum: int) -> int:
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or default, maximum)


def encode_token(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_token(token: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise InvalidArgument(
            [FieldViolation("page_token", "is not a token from a previous response")]
        ) from None


def encode_offset(after: int) -> str:
    return encode_token(after)


def decode_offset(token: str) -> int:
    if not token:
        return 0
    position = decode_token(token)
    if not isinstance(position, int):
        raise InvalidArgument(
            [FieldViolation("page_token", "is not a token from a previous response")]
        )
    return position


def decode_position(token: str, *kinds: type) -> tuple[Any, ...] | None:
    """The position a page token holds, checked against the kinds of its parts; None for ''."""
    if not token:
        return None
    position = decode_token(token)
    if (
        isinstance(position, list) and len(position) == len(kinds)
        and all(isinstance(part, kind) for part, kind in zip(position, kinds, strict=True))
    ):
        return tuple(position)
    raise InvalidArgument(
        [FieldViolation("page_token", "is not a token from a previous response")]
    )
