"""The published vocabulary of samples and their results: resource names.

Pure (standard library and common/domain only): other contexts may import this module.
"""

from __future__ import annotations

import re

from services.common.domain.errors import FieldViolation, InvalidArgument

PREFIX = "samples/"
SAMPLE_ID = re.compile(r"[A-Z]{2,8}-S-[0-9]{4}-[0-9]{5}", re.ASCII)
RESULT_NAME = re.compile(r"samples/([A-Z]{2,8}-S-[0-9]{4}-[0-9]{5})/results/([1-9][0-9]{0,4})",
                         re.ASCII)


def sample_id(site_code: str, year: int, number: int) -> str:
    """e.g. ``SYR-S-2026-00001``."""
    return f"{site_code}-S-{year:04d}-{number:05d}"


def sample_name(sample_id: str) -> str:
    return f"{PREFIX}{sample_id}"


def result_name(sample_id: str, number: int) -> str:
    """``samples/{sample_id}/results/{n}``."""
    return f"{PREFIX}{sample_id}/results/{number}"


def sample_id_of(name: str, field: str = "sample") -> str:
    candidate = name.removeprefix(PREFIX) if name.startswith(PREFIX) else ""
    if not SAMPLE_ID.fullmatch(candidate):
        raise InvalidArgument([FieldViolation(field, "must look like samples/SYR-S-2026-00001")])
    return candidate


def result_of(name: str, field: str = "result") -> tuple[str, int]:
    """(sample_id, result number) of ``samples/{sample_id}/results/{n}``."""
    found = RESULT_NAME.fullmatch(name)
    if found is None:
        raise InvalidArgument([FieldViolation(
            field, "must look like samples/SYR-S-2026-00001/results/1")])
    return found.group(1), int(found.group(2))
