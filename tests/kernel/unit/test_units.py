"""UCUM unit codes are checked by a UCUM parser, not by a character class."""

from __future__ import annotations

import pytest

from services.common.domain.units import is_ucum


@pytest.mark.parametrize("code", ["Cel", "mg/mL", "h", "[pH]", "%", "mL/min", "10*3/uL", "kg"])
def test_ucum_codes_pass(code: str) -> None:
    assert is_ucum(code)


@pytest.mark.parametrize("code", ["NULL", "kilogram", "RPM", "", " mg", "mg/", "x" * 65])
def test_words_that_are_not_ucum_are_refused(code: str) -> None:
    assert not is_ucum(code)
