"""Page tokens (AIP-158): opaque to clients, a position to us."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from google.protobuf import message

from services.common.domain.errors import FieldViolation, InvalidArgument


def page_size_of(requested: int, *, default: int, maximum: int) -> int:
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or default, maximum)


def encode_token(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


# Our tokens are a few dozen bytes; anything far longer did not come from us.
MAX_TOKEN_LEN = 1024
# A position part that is an integer fits a signed 64-bit column and is never negative.
MAX_POSITION = 2**63 - 1


def _not_ours() -> InvalidArgument:
    return InvalidArgument(
        [FieldViolation("page_token", "is not a token from a previous response")]
    )


def decode_token(token: str) -> object:
    """The JSON a token holds: refused unless short and flat (a scalar or a list of scalars);
    deep nesting, huge numbers and odd bytes are INVALID_ARGUMENT, never INTERNAL."""
    if len(token) > MAX_TOKEN_LEN or not token.isascii():
        raise _not_ours()
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, RecursionError):
        raise _not_ours() from None
    parts = position if isinstance(position, list) else [position]
    if any(isinstance(part, list | dict) for part in parts):
        raise _not_ours()
    return position


def _is_part(part: object, kind: type) -> bool:
    if kind is int:
        # bool is an int to Python, not to a token.
        return type(part) is int and 0 <= part <= MAX_POSITION  # type: ignore[operator]
    return isinstance(part, kind)


def encode_offset(after: int) -> str:
    return encode_token(after)


def decode_offset(token: str) -> int:
    if not token:
        return 0
    position = decode_token(token)
    if not _is_part(position, int):
        raise _not_ours()
    return position  # type: ignore[return-value]


def decode_position(token: str, *kinds: type) -> tuple[Any, ...] | None:
    """The position a page token holds, checked against the kinds of its parts; None for ''."""
    if not token:
        return None
    position = decode_token(token)
    if (
        isinstance(position, list) and len(position) == len(kinds)
        and all(_is_part(part, kind) for part, kind in zip(position, kinds, strict=True))
    ):
        return tuple(position)
    raise _not_ours()


# A page of a List response ends before its items reach this many bytes, serialized: well under
# gRPC's default 4 MiB message limit whatever the records hold. The page then holds fewer items
# than page_size and a next_page_token (AIP-158 allows a short page); it always holds one.
PAGE_BYTES = 3 * 1024 * 1024
# A repeated message field's tag and length prefix, per item, at most.
_ITEM_FRAME = 6
M = TypeVar("M", bound=message.Message)
T = TypeVar("T")


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


def page_of(
    found: Sequence[T], size: int, item_bytes: Callable[[T], int],
    position: Callable[[T], object], *, budget: int | None = None,
) -> tuple[list[T], str]:
    """From ``found`` (read with ``size + 1`` rows, so one more than a page says there is
    more): the leading items that fit one page by count and bytes, and the token of the next
    page ("" at the end), made of the last item's ``position``."""
    taken = fitting_page((item_bytes(item) for item in found[:size]), budget=budget)
    token = encode_token(position(found[taken - 1])) if len(found) > taken else ""
    return list(found[:taken]), token


def page_of_keyed(rows: Sequence[tuple[Any, M]], size: int) -> tuple[list[M], str]:
    """From ``(key, message)`` rows read ``size + 1`` at a time, in key order: the page's
    messages (by count and bytes) and the next page's token, the last one's key ("" at the
    end). A key is a value or a tuple of values."""
    found, token = page_of(
        rows, size, lambda row: row[1].ByteSize(),
        lambda row: list(row[0]) if isinstance(row[0], tuple) else [row[0]],
    )
    return [message for _, message in found], token
