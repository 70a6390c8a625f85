"""The published vocabulary of OOS investigations: their resource names.

Pure (standard library and common/domain only): other contexts may import this module.
"""

from __future__ import annotations

import re

from services.common.domain.errors import FieldViolation, InvalidArgument

INVESTIGATION_PREFIX = "investigations/"
INVESTIGATION_ID = re.compile(r"[A-Z]{2,8}-OOS-[0-9]{4}-[0-9]{5}", re.ASCII)


def investigation_id(site_code: str, year: int, number: int) -> str:
    """e.g. ``SYR-OOS-2026-00001``: numbered per site and year."""
    return f"{site_code}-OOS-{year:04d}-{number:05d}"


def investigation_name(investigation_id: str) -> str:
    return f"{INVESTIGATION_PREFIX}{investigation_id}"


def investigation_id_of(name: str, field: str = "name") -> str:
    """The id of ``investigations/{id}``; InvalidArgument naming ``field`` otherwise."""
    candidate = (
        name[len(INVESTIGATION_PREFIX):] if name.startswith(INVESTIGATION_PREFIX) else ""
    )
    if not INVESTIGATION_ID.fullmatch(candidate):
        raise InvalidArgument(
            [FieldViolation(field, "must look like investigations/SYR-OOS-2026-00001")]
        )
    return candidate
