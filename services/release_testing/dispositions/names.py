"""The published vocabulary of dispositions: their resource names.

Pure (standard library and common/domain only): other contexts may import this module.
"""

from __future__ import annotations

import re

from services.common.domain.errors import FieldViolation, InvalidArgument

DISPOSITION_NAME = re.compile(
    r"batches/([A-Z]{2,8}-B-[0-9]{4}-[0-9]{5})/dispositions/([1-9][0-9]{0,5})", re.ASCII
)


def disposition_name(batch_id: str, number: int) -> str:
    """``batches/{batch_id}/dispositions/{n}``: the n-th decision on the batch."""
    return f"batches/{batch_id}/dispositions/{number}"


def disposition_of(name: str, field: str = "name") -> tuple[str, int]:
    """(batch_id, number) of ``batches/{batch_id}/dispositions/{n}``."""
    found = DISPOSITION_NAME.fullmatch(name)
    if found is None:
        raise InvalidArgument([FieldViolation(
            field, "must look like batches/SYR-B-2026-00042/dispositions/1")])
    return found.group(1), int(found.group(2))
