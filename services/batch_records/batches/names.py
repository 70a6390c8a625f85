"""The published vocabulary of executed batch records: resource names and batch ids.

Pure (standard library and common/domain only): other contexts may import this module.
"""

from __future__ import annotations

import re

from services.common.domain.errors import FieldViolation, InvalidArgument

BATCH_NAME = re.compile(r"batches/(?P<batch_id>[A-Z]{2,8}-B-[0-9]{4}-[0-9]{5})", re.ASCII)


def batch_id_of(name: str, field: str = "batch") -> str:
    match = BATCH_NAME.fullmatch(name)
    if match is None:
        raise InvalidArgument(
            [FieldViolation(field, "must look like batches/SYR-B-2026-00042")]
        )
    return match["batch_id"]


def batch_id_for(site_code: str, year: int, number: int) -> str:
    return f"{site_code}-B-{year}-{number:05d}"
