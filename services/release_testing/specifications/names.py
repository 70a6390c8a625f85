"""The published vocabulary of specifications: their resource names.

Pure (standard library and common/domain only): other contexts may import this module.
"""

from __future__ import annotations

import re

from services.common.domain.errors import FieldViolation, InvalidArgument

PREFIX = "specifications/"
SPEC_ID = re.compile(r"[A-Z]{2,8}-SP-[0-9]{6}", re.ASCII)
VERSION_NAME = re.compile(r"specifications/([A-Z]{2,8}-SP-[0-9]{6})/versions/([1-9][0-9]{0,5})",
                          re.ASCII)


def spec_id(site_code: str, number: int) -> str:
    """e.g. ``SYR-SP-000001``."""
    return f"{site_code}-SP-{number:06d}"


def specification_name(spec_id: str) -> str:
    return f"{PREFIX}{spec_id}"


def version_name(spec_id: str, version: int) -> str:
    """``specifications/{spec_id}/versions/{version}``."""
    return f"{PREFIX}{spec_id}/versions/{version}"


def spec_id_of(name: str, field: str = "specification") -> str:
    candidate = name.removeprefix(PREFIX) if name.startswith(PREFIX) else ""
    if not SPEC_ID.fullmatch(candidate):
        raise InvalidArgument([
            FieldViolation(field, "must look like specifications/SYR-SP-000001")])
    return candidate


def version_of(name: str, field: str = "name") -> tuple[str, int]:
    """(spec_id, version) of ``specifications/{spec_id}/versions/{version}``."""
    found = VERSION_NAME.fullmatch(name)
    if found is None:
        raise InvalidArgument([FieldViolation(
            field, "must look like specifications/SYR-SP-000001/versions/1")])
    return found.group(1), int(found.group(2))
