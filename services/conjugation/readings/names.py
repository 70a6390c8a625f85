"""The published vocabulary of process readings: tag names, excursion names, their bounds.

Pure (standard library and common/domain only): other contexts may import this module.
"""

from __future__ import annotations

import re

from services.common.domain.errors import FieldViolation, InvalidArgument
from services.conjugation.runs.names import run_name

# A tag as the plant names it: "R201.TT01" (ASCII letters, digits, ".", "_", "-").
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
TAG_LEN = 64


def tag_problem(tag: str) -> str:
    """Why ``tag`` is not a tag name, or ''."""
    if not tag:
        return "is required"
    if len(tag) > TAG_LEN or not TAG.fullmatch(tag):
        return (f"must be 1-{TAG_LEN} of A-Z a-z 0-9 . _ - starting with a letter or digit, "
                "e.g. R201.TT01")
    return ""


def tag_of(tag: str, field: str = "tag") -> str:
    problem = tag_problem(tag)
    if problem:
        raise InvalidArgument([FieldViolation(field, problem)])
    return tag


def tag_name(run_id: str, tag: str) -> str:
    """``conjugationRuns/{run_id}/tags/{tag}``."""
    return f"{run_name(run_id)}/tags/{tag}"


def excursion_name(run_id: str, tag: str, number: int) -> str:
    """``conjugationRuns/{run_id}/tags/{tag}/excursions/{n}`` (n counts from 1 per tag)."""
    return f"{tag_name(run_id, tag)}/excursions/{number}"
