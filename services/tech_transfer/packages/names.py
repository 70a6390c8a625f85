"""The published vocabulary of transfer packages: their resource names.

Pure (standard library and common/domain only): other contexts may import this module.
"""

from __future__ import annotations

import re

from services.common.domain.errors import FieldViolation, InvalidArgument

PREFIX = "transferPackages/"
PACKAGE_ID = re.compile(r"[A-Z]{2,8}-TP-[0-9]{6}", re.ASCII)


def package_id(site_code: str, number: int) -> str:
    """e.g. ``SYR-TP-000001``."""
    return f"{site_code}-TP-{number:06d}"


def package_name(package_id: str) -> str:
    return f"{PREFIX}{package_id}"


def package_id_of(name: str, field: str = "name") -> str:
    candidate = name.removeprefix(PREFIX) if name.startswith(PREFIX) else ""
    if not PACKAGE_ID.fullmatch(candidate):
        raise InvalidArgument([FieldViolation(field,
                                              "must look like transferPackages/SYR-TP-000001")])
    return candidate
