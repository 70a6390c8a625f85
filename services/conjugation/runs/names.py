"""The published vocabulary of conjugation runs: resource names and the run's subjects.

Pure (standard library and common/domain only): other contexts (batch_records, the site
view) may import this module.
"""

from __future__ import annotations

import re

from services.common.domain.errors import FieldViolation, InvalidArgument

RUN_PREFIX = "conjugationRuns/"
RUN_ID = re.compile(r"[A-Z]{2,8}-CR-[0-9]{6}", re.ASCII)
# The event kinds of conjugation that raise an exception on a batch: each payload carries a
# twinline.events.v1.ProcessException in its field "exception".
RAISING_EVENTS = (
    ("run", "charge_out_of_tolerance"),
    ("run", "parameter_out_of_limits"),
    ("run", "result_out_of_range"),
    ("readings", "excursion_started"),
)


def run_id(site_code: str, number: int) -> str:
    """e.g. ``SYR-CR-000001``."""
    return f"{site_code}-CR-{number:06d}"


def run_name(run_id: str) -> str:
    return f"{RUN_PREFIX}{run_id}"


def run_id_of(name: str, field: str = "run") -> str:
    """The run id of ``conjugationRuns/{run_id}``; InvalidArgument naming ``field`` otherwise."""
    candidate = name[len(RUN_PREFIX):] if name.startswith(RUN_PREFIX) else ""
    if not RUN_ID.fullmatch(candidate):
        raise InvalidArgument(
            [FieldViolation(field, "must look like conjugationRuns/SYR-CR-000001")]
        )
    return candidate
