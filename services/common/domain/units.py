"""UCUM unit codes (https://ucum.org): a code is valid when the UCUM grammar and its table of
units accept it, checked by ucumvert's parser; a character class would let "NULL" pass."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from lark.exceptions import LarkError
from pint import Quantity
from pint.errors import DimensionalityError, PintError
from ucumvert import PintUcumRegistry, get_ucum_parser

MAX_UNIT_LENGTH = 64


@functools.cache
def _parser() -> Any:
    """ucumvert's Lark parser of the UCUM grammar, built once (about half a second)."""
    return get_ucum_parser()


# Parsing a code costs milliseconds and requests repeat a few codes: each is parsed once.
CACHED_CODES = 4096


@functools.lru_cache(maxsize=CACHED_CODES)
def is_ucum(code: str) -> bool:
    """True if code is a case-sensitive UCUM code such as 'Cel', 'mg/mL', 'h', '[pH]', '%'."""
    if not code or len(code) > MAX_UNIT_LENGTH or code != code.strip():
        return False
    try:
        _parser().parse(code)
    except (LarkError, ValueError):
        return False
    return True


@functools.cache
def registry() -> Any:
    """pint's registry with ucumvert's UCUM definitions, in Decimal arithmetic (built once)."""
    return PintUcumRegistry(non_int_type=Decimal)


@functools.lru_cache(maxsize=CACHED_CODES)
def _from_ucum(code: str) -> Any:
    """pint's reading of a UCUM code: a Quantity, a factor (often 1) and pint units."""
    return registry().from_ucum(code)


def quantity(value: Decimal, code: str) -> Quantity:
    """``value`` in the UCUM unit ``code`` (a valid code: check it with ``is_ucum`` first)."""
    parsed = _from_ucum(code)
    return registry().Quantity(value * _decimal(parsed.magnitude), parsed.units)  # type: ignore[no-any-return]


def converts(code: str, to_code: str) -> bool:
    """Whether a quantity in ``code`` can be expressed in ``to_code`` (same dimension)."""
    try:
        quantity(Decimal(1), code).to(_from_ucum(to_code).units)
    except (DimensionalityError, PintError, LarkError, ValueError):
        return False
    return True


def in_unit(value: Quantity, code: str) -> Decimal:
    """The magnitude of ``value`` in the UCUM unit ``code``."""
    target = _from_ucum(code)
    return _decimal(value.to(target.units).magnitude) / _decimal(target.magnitude)


def _decimal(number: object) -> Decimal:
    return number if isinstance(number, Decimal) else Decimal(str(number))
