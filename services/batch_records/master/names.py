"""The published vocabulary of master batch records: resource names, ids and version keys.

Pure (standard library and common/domain only): other contexts may import this module, and
nothing else of batch_records but its protos.
"""

from __future__ import annotations

import re

from services.common.domain.errors import FieldViolation, InvalidArgument

# ASCII digits only (\d would take Arabic-Indic digits), matched whole; a version fits 32 bits.
NAME = re.compile(
    r"masterBatchRecords/(?P<record_id>[A-Z]{2,8}-MBR-[0-9]{6})"
    r"/versions/(?P<version>[1-9][0-9]{0,8}|latest)",
    re.ASCII,
)
STATE_PREFIX = "MASTER_BATCH_RECORD_STATE_"


def parse_name(name: str, field: str = "name") -> tuple[str, int | None]:
    """(record id, version or None for latest) of a resource name."""
    match = NAME.fullmatch(name)
    if match is None:
        raise InvalidArgument(
            [FieldViolation(field, "must look like masterBatchRecords/SYR-MBR-000001/versions/1")]
        )
    version = match["version"]
    return match["record_id"], None if version == "latest" else int(version)


def version_key(record_id: str, version: int) -> str:
    return f"{record_id}/v{version}"


def record_id_for(site_code: str, number: int) -> str:
    return f"{site_code}-MBR-{number:06d}"
