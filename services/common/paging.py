"""Page tokens (AIP-158): opaque to clients, a position to us."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from google.protobuf import message

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


# A page of a List response ends before its items reach this many bytes, serialized: well under
# gRPC's default 4 MiB message limit whatever the records hold. The page then holds fewer items
# than page_size and a next_page_token (AIP-158 allows a short page); it always holds one.
PAGE_BYTES = 3 * 1024 * 1024
# A repeated message field's tag and length prefix, per item, at most.
_ITEM_FRAME = 6
M = TypeVar("M", bound=message.Message)


def fitting_page(item_bytes: Iterable[int], *, budget: int | None = None) -> int:
    """How many leading items, of the serialized sizes given in order, one page holds within
    ``budget`` bytes (default PAGE_BYTES); at least one when there is one."""
    budget = PAGE_BYTES if budget is None else budget
    taken, weight = 0, 0
    for size in item_bytes:
        weight += size + _ITEM_FRAME
        if taken and weight > budget:
            break
        taken += 1
    return taken


def page_of_messages(items: Sequence[M], size: int, *, budget: int | None = None) -> list[M]:
    """The leading items (at most ``size``) that fit one page's byte budget."""
    return list(items[: fitting_page((item.ByteSize() for item in items[:size]), budget=budget)])
