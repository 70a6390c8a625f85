"""A tag of a run: its unit, its limits and dwell, and the checks of a declaration."""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.common.domain import bounds
from services.common.domain.errors import Violations
from services.common.domain.roles import Role
from services.common.domain.units import is_ucum
from services.conjugation.readings.names import tag_problem

DECLARER_ROLES = (Role.PROCESS_ENGINEER, Role.SUPERVISOR, Role.ADMIN)
INGEST_ROLES = (Role.INTEGRATION, Role.OPERATOR, Role.SUPERVISOR)
# A day: longer is no dwell but a missing limit.
MAX_DWELL_US = 24 * 3600 * 1_000_000
TAGS_PER_RUN = 500


@dataclass(frozen=True)
class Limits:
    """Inclusive limits (None: none that side) and how long a value may stay outside."""

    low: float | None
    high: float | None
    dwell_us: int


@dataclass(frozen=True)
class Tag:
    run_id: str
    tag: str
    description: str
    unit: str
    limits: Limits
    batch: str  # "batches/{id}": the batch an excursion raises an exception on


def check_tag(
    *, tag: str, description: str, unit: str, limits: Limits, violations: Violations
) -> None:
    """Every bad field of a declaration, added to ``violations``."""
    problem = tag_problem(tag)
    if problem:
        violations.add("tag.tag", problem)
    bounds.text("tag.description", description, bounds.NAME_LEN, violations)
    if not is_ucum(unit):
        violations.add("tag.unit", "must be a UCUM code, e.g. Cel, [pH], mL/min")
    for field, limit in (("tag.low_limit", limits.low), ("tag.high_limit", limits.high)):
        if limit is not None and not math.isfinite(limit):
            violations.add(field, "must be a finite number")
    if (limits.low is not None and limits.high is not None and math.isfinite(limits.low)
            and math.isfinite(limits.high) and limits.low > limits.high):
        violations.add("tag.high_limit", f"must not be below low_limit {limits.low}")
    if not 0 <= limits.dwell_us <= MAX_DWELL_US:
        violations.add("tag.dwell", "must be 0 ... 24 h")
