"""UCUM unit codes (https://ucum.org): a code is valid when the UCUM grammar and its table of
units accept it, checked by ucumvert's parser; a character class would let "NULL" pass."""

from __future__ import annotations

import functools
from typing import Any

from lark.exceptions import LarkError
from ucumvert import get_ucum_parser

MAX_UNIT_LENGTH = 64


@functools.cache
def _parser() -> Any:
    """ucumvert's Lark parser of the UCUM grammar, built once (about half a second)."""
    return get_ucum_parser()


def is_ucum(code: str) -> bool:
    """True if code is a case-sensitive UCUM code such as 'Cel', 'mg/mL', 'h', '[pH]', '%'."""
    if not code or len(code) > MAX_UNIT_LENGTH or code != code.strip():
        return False
    try:
        _parser().parse(code)
    except (LarkError, ValueError):
        return False
    return True
